import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-file.js';
import { dataDirLayout } from './data-dir.js';

/** Tokens shorter than this draw a warning (PROTOCOL.md §2.1). */
export const MIN_TOKEN_LENGTH = 32;

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return text || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface ResolvedToken {
  token: string;
  /** True when the token was generated just now; the caller prints it once. */
  generated: boolean;
  source: 'config' | 'file' | 'generated';
}

/** The configured token, else the one saved in the data directory, else a new one saved there (mode 0600). */
export async function resolveToken(configured: string | undefined, dataDir: string): Promise<ResolvedToken> {
  if (configured) return { token: configured, generated: false, source: 'config' };
  const file = tokenFile(dataDir);
  const saved = await readTrimmed(file);
  if (saved) return { token: saved, generated: false, source: 'file' };
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, generated: true, source: 'generated' };
}

export function tokenFile(dataDir: string): string {
  return dataDirLayout(dataDir).token;
}

/** A stable identity for this agent installation, persisted beside the token. */
export async function resolveAgentId(dataDir: string): Promise<string> {
  const file = dataDirLayout(dataDir).agentId;
  const saved = await readTrimmed(file);
  if (saved) return saved;
  const id = `agt_${randomBytes(8).toString('hex')}`;
  await writeFileAtomic(file, `${id}\n`, 0o644);
  return id;
}
