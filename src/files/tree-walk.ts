import { constants, fstat, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, opendir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AgentError } from '../errors.js';
import { fdPath } from './jail.js';
import { displayPath } from './path-rules.js';

/**
 * The one recursive walker of the sandbox (delete, copy, archive inputs, denylist subtree checks, disk usage).
 * The game may rebuild its directory while we walk it, so nothing is addressed by a path from the root:
 *  - each directory is opened from its parent's handle with O_NOFOLLOW | O_DIRECTORY, so a directory swapped
 *    for a symlink is never descended (the open fails, the entry is visited as what it is now);
 *  - the opened handle must be the inode lstat saw (dev/ino), so a swapped directory is skipped, not mixed in;
 *  - depth, entries and therefore open handles are capped: a 6,000-deep tree or a link loop cannot exhaust the
 *    descriptors (each level holds one handle and one directory stream);
 *  - names stream from the directory (opendir), so a directory with millions of names is never read whole.
 */

export interface WalkLimits {
  /** Levels below the starting entry; the walker holds two descriptors per level. */
  maxDepth: number;
  /** Entries visited, the starting one included. */
  maxEntries: number;
  /** 'throw' refuses with a clear error; 'stop' ends the walk early and reports `truncated`. */
  onLimit: 'throw' | 'stop';
}

export const DEFAULT_WALK_LIMITS: WalkLimits = { maxDepth: 128, maxEntries: 1_000_000, onLimit: 'throw' };

export interface WalkEntry {
  /** Root-relative segments of the entry. */
  segments: string[];
  name: string;
  /** The handle of the directory that holds the entry. */
  parentFd: number;
  /** `/proc/self/fd/<parent>/<name>`. */
  at: string;
  st: Stats;
  depth: number;
}

export interface Visitor {
  /** Called for every entry; for a directory, returning false skips its contents (and `leave`). */
  enter?(entry: WalkEntry): Promise<boolean | undefined> | boolean | undefined;
  /** Called for a directory after its contents (post-order: rmdir, closing a destination handle). */
  leave?(entry: WalkEntry, dir: FileHandle): Promise<void> | void;
  /** Called with the open handle of a directory before its contents are visited. */
  opened?(entry: WalkEntry, dir: FileHandle): Promise<void> | void;
}

export interface WalkResult {
  entries: number;
  truncated: boolean;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

class Stop extends Error {}

const fstatFd = promisify(fstat);

/** A handle the walk does not own: closing it is a no-op. */
function borrowed(fd: number): FileHandle {
  return { fd, close: async () => undefined } as FileHandle;
}

/** Opens a directory entry from its parent's handle, or undefined when it is no longer that directory. */
export async function openDirEntry(parentFd: number, name: string, expected: Stats): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(fdPath(parentFd, name), DIR_FLAGS);
  } catch (err) {
    const code = errno(err);
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') return undefined;
    throw err;
  }
  const st = await handle.stat();
  if (st.ino !== expected.ino || st.dev !== expected.dev) {
    await handle.close();
    return undefined;
  }
  return handle;
}

/**
 * Walks the entry `name` in the directory `parentFd` and, when it is a directory, everything below it.
 * `segments` are the entry's root-relative segments (for messages and the denylist). An empty `name` walks the
 * directory `parentFd` itself (the server root), which stays open afterwards.
 */
export async function walkEntry(
  parentFd: number,
  name: string,
  segments: string[],
  visitor: Visitor,
  limits: WalkLimits = DEFAULT_WALK_LIMITS,
): Promise<WalkResult> {
  const result: WalkResult = { entries: 0, truncated: false };
  const limit = (message: string): never => {
    if (limits.onLimit === 'stop') {
      result.truncated = true;
      throw new Stop();
    }
    throw new AgentError('FILE_TOO_LARGE', message);
  };

  const visit = async (fd: number, entryName: string, entrySegments: string[], depth: number): Promise<void> => {
    if (++result.entries > limits.maxEntries) {
      limit(`${displayPath(segments)} holds more than ${limits.maxEntries} entries`);
    }
    const self = entryName === '';
    const at = fdPath(fd, entryName);
    let st: Stats;
    try {
      // The root is its own handle: an lstat of /proc/self/fd/N would describe the magic link, not the directory.
      st = self ? await fstatFd(fd) : await lstat(at);
    } catch (err) {
      if (errno(err) === 'ENOENT') return; // deleted by the game while we walk: nothing to do
      throw err;
    }
    const entry: WalkEntry = { segments: entrySegments, name: entryName, parentFd: fd, at, st, depth };
    const descend = (await visitor.enter?.(entry)) !== false;
    if (!st.isDirectory() || !descend) return;
    if (depth >= limits.maxDepth) {
      limit(`${displayPath(entrySegments)} is nested deeper than ${limits.maxDepth} levels`);
    }
    const dir = self ? borrowed(fd) : await openDirEntry(fd, entryName, st);
    if (!dir) return; // swapped for a link or another directory mid-walk: never followed
    try {
      await visitor.opened?.(entry, dir);
      // for-await closes the directory stream at its end and on a throw.
      for await (const child of await opendir(fdPath(dir.fd), { bufferSize: 128 })) {
        await visit(dir.fd, child.name, [...entrySegments, child.name], depth + 1);
      }
      await visitor.leave?.(entry, dir);
    } finally {
      await dir.close();
    }
  };

  try {
    await visit(parentFd, name, segments, 0);
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return result;
}
