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
  return { token: await writeNewToken(dataDir), generated: true, source: 'generated' };
}

/** What SIGHUP found in the token file, against the token in force. */
export type TokenReload =
  | { kind: 'unchanged' }
  | { kind: 'configured' }
  | { kind: 'missing' }
  | { kind: 'changed'; token: string };

/** A token from the config (env, file, *_FILE) is fixed for the process's life; only the data-dir file rotates. */
export async function reloadToken(
  configured: string | undefined,
  dataDir: string,
  current: string,
): Promise<TokenReload> {
  if (configured) return { kind: 'configured' };
  const saved = await readTrimmed(tokenFile(dataDir));
  if (!saved) return { kind: 'missing' };
  return saved === current ? { kind: 'unchanged' } : { kind: 'changed', token: saved };
}

/** A new random token, written atomically (0600) in place of the old one: `token rotate`. */
export async function writeNewToken(dataDir: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(tokenFile(dataDir), `${token}\n`, 0o600);
  return token;
}

/** The saved token, if any (`token show`). */
export function readSavedToken(dataDir: string): Promise<string | undefined> {
  return readTrimmed(tokenFile(dataDir));
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
