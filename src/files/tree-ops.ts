import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, opendir, rmdir, unlink } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { WRITE_NEW } from './atomic-write.js';
import type { DenyList } from './deny-list.js';
import { fdPath } from './jail.js';
import { canChown, type Owner } from './owner.js';
import { displayPath } from './path-rules.js';
import { openRegular } from './safe-open.js';
import { openDirEntry, type WalkLimits, walkEntry } from './tree-walk.js';

/** The recursive operations of the sandbox, each one walk of tree-walk.ts. */

function inode(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Refuses a recursive operation when any entry below it is denied: moving, copying or deleting a directory
 * would otherwise carry a protected file along. Runs before anything is changed, so a refusal loses nothing.
 */
export async function assertTreeAllowed(
  deny: DenyList,
  parentFd: number,
  name: string,
  segments: string[],
  field: string,
  limits: WalkLimits,
): Promise<void> {
  if (deny.empty) return;
  await walkEntry(
    parentFd,
    name,
    segments,
    {
      enter(entry) {
        const pattern = deny.deniedBy(entry.segments);
        if (pattern !== undefined) {
          throw new AgentError(
            'PERMISSION_DENIED',
            `${field}: ${displayPath(segments)} contains ${displayPath(entry.segments)}, which is on the file denylist (${pattern})`,
          );
        }
        return true;
      },
    },
    limits,
  );
}

const DELETE_BATCH = 128;

/** ENOENT means the game removed it first: fine. Anything else is a real failure. */
function gone(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return undefined;
  throw err;
}

/** Up to DELETE_BATCH names of a directory (a fresh stream each time: the ones already removed are gone). */
async function someNames(dir: FileHandle): Promise<string[]> {
  const names: string[] = [];
  const stream = await opendir(fdPath(dir.fd), { bufferSize: DELETE_BATCH });
  try {
    for (let entry = await stream.read(); entry && names.length < DELETE_BATCH; entry = await stream.read()) {
      names.push(entry.name);
    }
  } finally {
    await stream.close();
  }
  return names;
}

/**
 * Deletes an entry and everything below it without following a link; returns the bytes freed. Unlike the
 * other walks it has no depth limit and holds one directory handle at any time, whatever the depth (a tenant's
 * 6,000-deep tree must still be deletable): it descends into the first subdirectory it meets and climbs back
 * through `..`, checking by dev/ino that `..` is still the directory it came from (the game may move things
 * while we delete).
 */
export async function removeTree(parentFd: number, name: string, segments: string[], maxEntries: number) {
  const top = await lstat(fdPath(parentFd, name));
  if (!top.isDirectory()) {
    await unlink(fdPath(parentFd, name));
    return top.blocks * 512;
  }
  let freed = 0;
  let entries = 0;
  const path: { name: string; st: Stats }[] = [{ name, st: top }];
  let current = await openDirEntry(parentFd, name, top);
  if (!current) {
    await unlink(fdPath(parentFd, name)); // swapped for a link since the lstat: remove the link itself
    return 0;
  }
  try {
    for (;;) {
      const names = await someNames(current);
      let descended = false;
      for (const child of names) {
        if (++entries > maxEntries) {
          throw new AgentError('FILE_TOO_LARGE', `${displayPath(segments)} holds more than ${maxEntries} entries`);
        }
        const at = fdPath(current.fd, child);
        const st = await lstat(at).catch(gone);
        if (!st) continue;
        if (!st.isDirectory()) {
          await unlink(at).catch(gone);
          freed += st.blocks * 512;
          continue;
        }
        // Undefined: swapped since the lstat; the next pass sees what is there now. Every other failure throws,
        // so a name that cannot be removed ends the delete instead of spinning on it.
        const next = await openDirEntry(current.fd, child, st);
        if (!next) continue;
        await current.close();
        current = next;
        path.push({ name: child, st });
        descended = true;
        break;
      }
      if (descended || names.length > 0) continue;
      // `current` is empty: climb to its parent and remove it there.
      const done = path.pop() as { name: string; st: Stats };
      if (path.length === 0) {
        await current.close();
        current = undefined;
        await rmdir(fdPath(parentFd, done.name));
        return freed;
      }
      const up = await openDirEntry(current.fd, '..', (path[path.length - 1] as { st: Stats }).st);
      if (!up) throw new AgentError('INVALID_PATH', `${displayPath(segments)} was moved while being deleted`);
      await current.close();
      current = up;
      await rmdir(fdPath(current.fd, done.name));
    }
  } finally {
    await current?.close();
  }
}

export interface CopyHooks {
  owner: Owner | undefined;
  /** Throws DISK_LIMIT before a file of `bytes` is copied. */
  reserve(bytes: number): Promise<void>;
  adjust(bytes: number): void;
}

/**
 * Copies an entry (a regular file or a directory tree) to `dstName` in the directory `dstDirFd`. Symlinks,
 * FIFOs, sockets and devices are skipped and counted: a link's meaning changes in a new place, and the others
 * are not file contents. The destination's own directory is never copied into itself, even when the game moves
 * it inside the source during the walk (compared by dev/ino, not by name).
 */
export async function copyTree(
  src: { parentFd: number; name: string; segments: string[] },
  dst: { dirFd: number; name: string },
  hooks: CopyHooks,
  limits: WalkLimits,
): Promise<number> {
  let skipped = 0;
  let destinationInode: string | undefined;
  const handles: (FileHandle | undefined)[] = [];
  const targetOf = (depth: number, name: string) =>
    depth === 0 ? fdPath(dst.dirFd, dst.name) : fdPath((handles[depth - 1] as FileHandle).fd, name);
  try {
    await walkEntry(
      src.parentFd,
      src.name,
      src.segments,
      {
        async enter(entry) {
          const { st } = entry;
          if (st.isFile()) {
            await copyFile(entry.at, displayPath(entry.segments), targetOf(entry.depth, entry.name), st, hooks);
            return false;
          }
          if (!st.isDirectory() || inode(st) === destinationInode) {
            skipped++;
            return false;
          }
          return true;
        },
        async opened(entry) {
          const at = targetOf(entry.depth, entry.name);
          await mkdir(at, { mode: 0o755 });
          const handle = await open(at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
          handles[entry.depth] = handle;
          if (canChown(hooks.owner)) await handle.chown(hooks.owner.uid, hooks.owner.gid);
          if (entry.depth === 0) destinationInode = inode(await handle.stat());
        },
        async leave(entry) {
          await handles[entry.depth]?.close();
          handles[entry.depth] = undefined;
        },
      },
      limits,
    );
  } finally {
    for (const handle of handles) await handle?.close().catch(() => undefined);
  }
  return skipped;
}

async function copyFile(at: string, shown: string, target: string, st: Stats, hooks: CopyHooks): Promise<void> {
  await hooks.reserve(st.size);
  const input = await openRegular(at, shown);
  try {
    const output = await open(target, WRITE_NEW, st.mode & 0o777);
    try {
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      let copied = 0;
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        copied += bytesRead;
        // The game may grow the file while we copy it: the quota holds for what is written, not what was declared.
        if (copied > st.size) await hooks.reserve(bytesRead);
        await output.write(buffer, 0, bytesRead);
      }
      if (canChown(hooks.owner)) await output.chown(hooks.owner.uid, hooks.owner.gid);
      hooks.adjust(copied);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

export interface CollectedEntry {
  /** The archive name: root-relative, `/`-terminated for a directory. */
  name: string;
  segments: string[];
  directory: boolean;
}

/**
 * Every regular file and directory under an entry, for an archive: links, FIFOs, sockets, devices and denied
 * paths are left out (counted in `skipped`); `exclude` (the archive being written) too.
 */
export async function collectTree(
  parentFd: number,
  name: string,
  segments: string[],
  deny: DenyList,
  exclude: string,
  out: CollectedEntry[],
  limits: WalkLimits,
): Promise<number> {
  let skipped = 0;
  await walkEntry(
    parentFd,
    name,
    segments,
    {
      enter(entry) {
        const shown = displayPath(entry.segments);
        if (shown === exclude || deny.deniedBy(entry.segments) !== undefined) {
          skipped++;
          return false;
        }
        if (out.length >= limits.maxEntries) {
          throw new AgentError('FILE_TOO_LARGE', `more than ${limits.maxEntries} entries`);
        }
        if (entry.st.isFile()) {
          out.push({ name: entry.segments.join('/'), segments: entry.segments, directory: false });
          return false;
        }
        if (!entry.st.isDirectory()) {
          skipped++;
          return false;
        }
        if (entry.segments.length > 0) {
          out.push({ name: `${entry.segments.join('/')}/`, segments: entry.segments, directory: true });
        }
        return true;
      },
    },
    limits,
  );
  return skipped;
}
