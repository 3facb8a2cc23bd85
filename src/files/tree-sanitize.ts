import { constants, type Dir, type Stats } from 'node:fs';
import { type FileHandle, lchown, lstat, open, opendir, unlink } from 'node:fs/promises';
import { fdPath } from './jail.js';

/**
 * The walk over a server directory after an install script ran in it as root. The script is not trusted with
 * the host, and the directory is a host path, so nothing it left is followed or opened blindly:
 *
 *  - the root is opened with O_NOFOLLOW | O_DIRECTORY and every child is addressed as
 *    `/proc/self/fd/<parent handle>/<name>` (the jail.ts pattern): one name inside a directory we hold open, so
 *    a renamed or swapped ancestor cannot redirect the walk outside;
 *  - a child is lstat'ed first and treated by its type: device nodes, FIFOs and sockets are removed (a game
 *    server has no use for them, and a FIFO blocks whoever opens it: the agent's file API, a backup); a FIFO is
 *    never opened;
 *  - directories are opened with O_NOFOLLOW | O_DIRECTORY | O_NONBLOCK and descended only when the handle's
 *    dev/ino match the lstat (a directory swapped for a link or another directory in between is skipped), and
 *    never across a mount point (like `find -xdev`): the walk stays in the server's own file system;
 *  - ownership changes never follow a link: a directory through its handle (fchown); anything else with lchown
 *    on the fd-relative path, which is fchownat(dirfd, name, AT_SYMLINK_NOFOLLOW): it changes the entry itself,
 *    whatever it is by then, and the entry stays inside the held directory. Opening every regular file to fchown
 *    it would buy nothing more and cost two system calls per file on trees of a million files;
 *  - setuid and setgid bits are cleared on regular files: the directory is on the host, where such a file
 *    (root's, or the shared game uid's) would be a way up for any host user who can reach it. The file is opened
 *    O_NOFOLLOW | O_NONBLOCK, checked against the lstat, and changed through the handle (chmod follows links).
 *
 * Everything is bounded: entries visited (`maxEntries`), and depth (`maxDepth`), which also bounds open
 * descriptors to two per level (the directory's handle, and the Dir stream reading it in small batches so a
 * directory of a million names is never held in memory). What lies past a bound is skipped and counted.
 */

export interface SanitizeOptions {
  /** New owner of every entry; undefined: leave ownership alone (the agent is not root, or keeps the image's user). */
  owner: { uid: number; gid: number } | undefined;
  maxEntries: number;
  maxDepth: number;
}

export interface SanitizeResult {
  /** Device nodes, FIFOs and sockets removed. */
  removed: number;
  /** Entries whose owner was changed. */
  chowned: number;
  /** Regular files whose setuid/setgid bits were cleared. */
  modesCleared: number;
  /** Entries left alone: changed while looked at, another file system, past a bound, or failing. */
  skipped: number;
  /** True when a bound stopped the walk before it saw everything. */
  truncated: boolean;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Names read from the kernel per batch; Node's default (32) would do, this keeps the bound explicit. */
const DIR_BUFFER = 64;
const SET_ID_BITS = 0o6000;

interface Frame {
  handle: FileHandle;
  dir: Dir;
  depth: number;
}

function isSpecial(st: Stats): boolean {
  return st.isFIFO() || st.isSocket() || st.isCharacterDevice() || st.isBlockDevice();
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Errors that mean "the entry changed, vanished or is not ours to change", counted instead of failing the walk. */
const RACE_CODES = new Set(['ENOENT', 'ELOOP', 'ENOTDIR', 'EXDEV', 'EACCES', 'EPERM', 'EBUSY']);

export async function sanitizeTree(root: string, options: SanitizeOptions): Promise<SanitizeResult> {
  const result: SanitizeResult = { removed: 0, chowned: 0, modesCleared: 0, skipped: 0, truncated: false };
  const { owner } = options;
  const rootHandle = await open(root, DIR_FLAGS);
  // From the moment it has a frame, the root handle is closed with that frame.
  let rootInFrame = false;
  const stack: Frame[] = [];
  try {
    const rootStat = await rootHandle.stat();
    if (owner && (rootStat.uid !== owner.uid || rootStat.gid !== owner.gid)) {
      await rootHandle.chown(owner.uid, owner.gid);
      result.chowned++;
    }
    stack.push({ handle: rootHandle, dir: await opendir(fdPath(rootHandle.fd), { bufferSize: DIR_BUFFER }), depth: 0 });
    rootInFrame = true;
    let seen = 0;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      const entry = await frame.dir.read();
      if (!entry) {
        stack.pop();
        await closeFrame(frame);
        continue;
      }
      if (++seen > options.maxEntries) {
        result.truncated = true;
        break;
      }
      const child = await visit(frame, entry.name, rootStat.dev, options, result);
      if (child) stack.push(child);
    }
  } finally {
    if (!rootInFrame) await rootHandle.close();
    for (const frame of stack.reverse()) await closeFrame(frame);
  }
  return result;
}

async function closeFrame(frame: Frame): Promise<void> {
  await frame.dir.close().catch(() => undefined); // already closed by an exhausted read
  await frame.handle.close().catch(() => undefined);
}

/** Handles one child of `frame`; returns a frame when it is a directory to descend into. */
async function visit(
  frame: Frame,
  name: string,
  rootDev: number,
  options: SanitizeOptions,
  result: SanitizeResult,
): Promise<Frame | undefined> {
  const at = fdPath(frame.handle.fd, name);
  try {
    const st = await lstat(at);
    if (isSpecial(st)) {
      await unlink(at);
      result.removed++;
      return undefined;
    }
    if (st.isDirectory()) return await enterDir(at, st, frame.depth + 1, rootDev, options, result);
    if (st.isFile() && st.mode & SET_ID_BITS) await clearSetId(at, st, result);
    const { owner } = options;
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) {
      await lchown(at, owner.uid, owner.gid);
      result.chowned++;
    }
    return undefined;
  } catch (err) {
    if (!RACE_CODES.has(errno(err) ?? '')) throw err;
    result.skipped++;
    return undefined;
  }
}

async function enterDir(
  at: string,
  st: Stats,
  depth: number,
  rootDev: number,
  options: SanitizeOptions,
  result: SanitizeResult,
): Promise<Frame | undefined> {
  if (st.dev !== rootDev) {
    result.skipped++;
    return undefined;
  }
  const handle = await open(at, DIR_FLAGS);
  let dir: Dir | undefined;
  try {
    const held = await handle.stat();
    if (!sameFile(held, st)) {
      result.skipped++;
      return undefined;
    }
    const { owner } = options;
    if (owner && (held.uid !== owner.uid || held.gid !== owner.gid)) {
      await handle.chown(owner.uid, owner.gid);
      result.chowned++;
    }
    if (depth > options.maxDepth) {
      // Re-owned, but its contents are past the bound.
      result.skipped++;
      result.truncated = true;
      return undefined;
    }
    dir = await opendir(fdPath(handle.fd), { bufferSize: DIR_BUFFER });
    return { handle, dir, depth };
  } finally {
    if (!dir) await handle.close();
  }
}

async function clearSetId(at: string, st: Stats, result: SanitizeResult): Promise<void> {
  const handle = await open(at, FILE_FLAGS);
  try {
    const held = await handle.stat();
    if (!sameFile(held, st) || !held.isFile()) {
      result.skipped++;
      return;
    }
    await handle.chmod(held.mode & 0o7777 & ~SET_ID_BITS);
    result.modesCleared++;
  } finally {
    await handle.close();
  }
}
