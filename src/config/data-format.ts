import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file.js';
import { dataDirLayout } from './data-dir.js';

/**
 * The data directory's format version (`<dataDir>/format`, one integer). It changes when the layout changes
 * (files moved, renamed or reshaped across the directory); a single record's shape has its own `version`
 * (servers/store.ts). An agent never starts on a directory newer than it knows (a downgrade would misread it), and
 * upgrades an older one step by step through DATA_DIR_MIGRATIONS before anything else reads it.
 */
export const DATA_DIR_FORMAT = 1;

/** `from` → the step to `from + 1`. Version 1 is the first versioned layout: directories without the file are v1. */
export const DATA_DIR_MIGRATIONS: Readonly<Record<number, (dataDir: string, log: Logger) => Promise<void>>> = {};

export class DataDirFormatError extends Error {
  override name = 'DataDirFormatError';
}

/** The version recorded in the directory; undefined for a fresh directory or one from before the file existed. */
export async function readDataDirFormat(dataDir: string): Promise<number | undefined> {
  const file = dataDirLayout(dataDir).format;
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const version = Number(text);
  if (!Number.isInteger(version) || version < 1) {
    throw new DataDirFormatError(
      `${file} holds "${text.slice(0, 20)}", not a format version; restore it from a backup`,
    );
  }
  return version;
}

/** Refuses a newer directory, migrates an older one, stamps a new or pre-versioning one with DATA_DIR_FORMAT. */
export async function ensureDataDirFormat(
  dataDir: string,
  log: Logger,
  current = DATA_DIR_FORMAT,
  migrations = DATA_DIR_MIGRATIONS,
): Promise<void> {
  const file = dataDirLayout(dataDir).format;
  const found = await readDataDirFormat(dataDir);
  if (found !== undefined && found > current) {
    throw new DataDirFormatError(
      `the data directory ${dataDir} has format ${found}, written by a newer agent; this agent reads up to ` +
        `format ${current}. Run the newer agent, or restore the backup taken before the upgrade`,
    );
  }
  if (found === current) return;
  // Absent: a fresh directory, or one an agent from before the file wrote (the v1 layout).
  let version = found ?? 1;
  while (version < current) {
    const step = migrations[version];
    if (!step) throw new DataDirFormatError(`no migration of the data directory from format ${version}`);
    log.warn({ from: version, to: version + 1 }, 'migrating the data directory');
    await step(dataDir, log);
    version += 1;
    await writeFileAtomic(file, `${version}\n`, 0o644);
  }
  if (found === undefined) {
    const entries = await readdir(dataDir).catch(() => [] as string[]);
    if (entries.length > 0) log.info({ format: current }, 'data directory stamped with its format version');
  }
  await writeFileAtomic(file, `${current}\n`, 0o644);
}
