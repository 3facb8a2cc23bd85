import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AgentError } from '../errors.js';
import type { DenyList } from './deny-list.js';
import { compareEntries, type FileInfo, fileInfo, type IdNames } from './file-info.js';
import { searchFiles } from './file-search.js';
import { errno, fsError } from './fs-errors.js';
import { fdPath, Jail, type Located, tempBeside } from './jail.js';
import { displayPath } from './path-rules.js';
import { kindOf, openRegular, readBounded } from './safe-open.js';
import { sendRange } from './send-range.js';
import { assertTreeAllowed, copyTree, type Owner, removeTree } from './tree-ops.js';
import { type SanitizeResult, sanitizeTree } from './tree-sanitize.js';
import type { WalkLimits } from './tree-walk.js';

/**
 * Every file operation on one server's directory, all addressed through the Jail (see jail.ts for why). Limits
 * and ownership come from the caller; disk use is checked and adjusted through the `quota` hooks.
 */
export interface FileLimits {
  readMaxBytes: number;
  downloadMaxBytes: number;
  listMaxEntries: number;
  searchMaxResults: number;
  searchMaxDepth: number;
  searchTimeMs: number;
  walkMaxDepth: number;
  walkMaxEntries: number;
}

export interface Quota {
  /** Throws DISK_LIMIT when `deltaBytes` more would exceed the server's limit. */
  reserve(deltaBytes: number): Promise<void>;
  /** Bytes that may still be written (Infinity without a limit): a cap for data whose size is not known. */
  headroom(): Promise<number>;
  adjust(deltaBytes: number): void;
}

const NOFOLLOW_READ = constants.O_RDONLY | constants.O_NOFOLLOW;
const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A regular file opened for a streamed download (ServerFiles.openForDownload). */
export interface Download {
  st: Stats;
  display: string;
  name: string;
  /** Sends the bytes start..end (inclusive) to `out` (send-range.ts), then closes the file either way. */
  send(start: number, end: number, out: Writable): Promise<void>;
  close(): Promise<void>;
}

/** DISK_LIMIT for `bytes` that do not fit in `headroom`. */
export function diskLimit(bytes: number, headroom: number): AgentError {
  return new AgentError(
    'DISK_LIMIT',
    `${bytes} bytes do not fit in the ${Math.max(0, headroom)} bytes left of the server's disk limit`,
  );
}

/** Mode and owner of a freshly written file, through a handle that does not follow links; returns its size. */
export async function finishFile(
  at: string,
  mode: number,
  owner: { uid: number; gid: number } | undefined,
): Promise<number> {
  const handle = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
    if (owner && process.getuid?.() === 0) await handle.chown(owner.uid, owner.gid);
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

export class ServerFiles {
  readonly jail: Jail;

  constructor(
    root: string,
    private readonly limits: FileLimits,
    private readonly names: IdNames,
    private readonly owner: Owner | undefined,
    readonly quota: Quota,
    readonly deny: DenyList,
  ) {
    this.jail = new Jail(root, deny);
  }

  /** Bounds of every recursive operation (depth, entries and so descriptors). */
  get walkLimits(): WalkLimits {
    return { maxDepth: this.limits.walkMaxDepth, maxEntries: this.limits.walkMaxEntries, onLimit: 'throw' };
  }

  /** Runs `fn` with a located path, maps errno failures to catalogue errors and always releases the handle. */
  private async with<T>(
    input: unknown,
    options: { follow: boolean; field?: string },
    fn: (loc: Located) => Promise<T>,
  ): Promise<T> {
    return this.using(await this.jail.locate(input, options), fn);
  }

  /** The same for a path that is about to be created (parents made like `mkdir -p`). */
  private async withNew<T>(input: unknown, field: string, fn: (loc: Located) => Promise<T>): Promise<T> {
    return this.using(await this.jail.locateForCreate(input, field, this.mkdirAt), fn);
  }

  private async using<T>(loc: Located, fn: (loc: Located) => Promise<T>): Promise<T> {
    try {
      return await fn(loc);
    } catch (err) {
      throw fsError(err, loc.display);
    } finally {
      await loc.close();
    }
  }

  private async own(at: string, isDir: boolean): Promise<void> {
    if (this.owner && process.getuid?.() === 0) {
      const handle = await open(at, (isDir ? constants.O_DIRECTORY : 0) | NOFOLLOW_READ);
      try {
        await handle.chown(this.owner.uid, this.owner.gid);
      } finally {
        await handle.close();
      }
    }
  }

  /** mkdir for a located path: mode 755 and owned by the game's user, like every directory the agent makes. */
  readonly mkdirAt = async (at: string): Promise<void> => {
    await mkdir(at, { mode: 0o755 });
    await this.own(at, true);
  };

  private async info(segments: string[], st: Stats): Promise<FileInfo> {
    if (!st.isSymbolicLink()) return fileInfo(displayPath(segments), st, this.names);
    return fileInfo(displayPath(segments), st, this.names, { target: await this.jail.linkTarget(segments) });
  }

  /** lstat of a located entry; the root is stat'ed through its handle (its fd path is a magic link). */
  private statOf(loc: Located): Promise<Stats> {
    return loc.name ? lstat(loc.at) : loc.dir.stat();
  }

  async list(input: unknown): Promise<{ path: string; files: FileInfo[]; truncated: boolean }> {
    return this.with(input, { follow: true }, async (loc) => {
      const handle = loc.name
        ? await open(loc.at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((err) => {
            if (errno(err) === 'ENOTDIR') throw new AgentError('NOT_A_DIRECTORY', `${loc.display} is not a directory`);
            throw err;
          })
        : loc.dir;
      try {
        const names = await readdir(fdPath(handle.fd));
        const truncated = names.length > this.limits.listMaxEntries;
        const files: FileInfo[] = [];
        for (const name of names.slice(0, this.limits.listMaxEntries)) {
          const entry = await lstat(fdPath(handle.fd, name)).catch(() => undefined);
          if (entry) files.push(await this.info([...loc.segments, name], entry));
        }
        files.sort(compareEntries);
        return { path: loc.display, files, truncated };
      } finally {
        if (handle !== loc.dir) await handle.close();
      }
    });
  }

  async fileInfo(input: unknown): Promise<FileInfo> {
    return this.with(input, { follow: false }, async (loc) => this.info(loc.segments, await this.statOf(loc)));
  }

  /** Opens a regular file for reading (never a FIFO, socket, device or a link swapped in). */
  private openFile(loc: Located): Promise<FileHandle> {
    if (!loc.name) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
    return openRegular(loc.at, loc.display);
  }

  async read(input: unknown, maxBytes = this.limits.readMaxBytes, what = 'read_file') {
    return this.with(input, { follow: true }, async (loc) => {
      const handle = await this.openFile(loc);
      try {
        const bytes = await readBounded(handle, maxBytes, loc.display, what);
        return { path: loc.display, bytes, modified: (await handle.stat()).mtime.toISOString() };
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * Opens a regular file for a streamed download. The caller either sends a byte range (which closes the file
   * when it settles) or closes it. `name` is the file's own name (for Content-Disposition).
   */
  async openForDownload(input: unknown): Promise<Download> {
    return this.with(input, { follow: true }, async (loc) => {
      const handle = await this.openFile(loc);
      const st = await handle.stat();
      return {
        st,
        display: loc.display,
        name: loc.name,
        close: () => handle.close(),
        send: async (start, end, out) => {
          try {
            await sendRange(handle.fd, start, end, out);
          } finally {
            await handle.close();
          }
        },
      };
    });
  }

  /**
   * The one atomic writer: a temporary file beside the target (same held directory), filled by `fill`, fsync'ed,
   * given mode 644 and the game's owner, then renamed over the target. `fill` receives the handle and the number
   * of bytes the quota still allows (the bound to enforce while data flows) and returns the bytes written. A
   * failure anywhere removes the temporary file and leaves the target as it was.
   */
  async writeAtomic(
    input: unknown,
    field: string,
    fill: (handle: FileHandle, headroom: number) => Promise<number>,
    options: { fsync?: boolean } = {},
  ): Promise<{ path: string; size: number; modified: string }> {
    return this.withNew(input, field, async (loc) => {
      const previous = await lstat(loc.at).catch(() => undefined);
      if (previous?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
      const replaced = previous?.isFile() ? previous.size : 0;
      const tmpAt = tempBeside(loc);
      const handle = await open(tmpAt, WRITE_NEW, 0o644);
      let written: number;
      try {
        try {
          written = await fill(handle, (await this.quota.headroom()) + replaced);
          await this.quota.reserve(written - replaced);
          if (options.fsync !== false) await handle.sync();
          await handle.chmod(0o644);
          if (this.owner && process.getuid?.() === 0) await handle.chown(this.owner.uid, this.owner.gid);
        } finally {
          await handle.close();
        }
        await rename(tmpAt, loc.at);
      } catch (err) {
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
      this.quota.adjust(written - replaced);
      const st = await lstat(loc.at);
      return { path: loc.display, size: st.size, modified: st.mtime.toISOString() };
    });
  }

  /** write_file: the bytes in one atomic replace; the disk limit is checked before anything is written. */
  async write(input: unknown, bytes: Buffer): Promise<{ path: string; size: number; modified: string }> {
    return this.writeAtomic(input, 'path', async (handle, headroom) => {
      if (bytes.length > headroom) throw diskLimit(bytes.length, headroom);
      await handle.writeFile(bytes);
      return bytes.length;
    });
  }

  async createDirectory(input: unknown): Promise<{ path: string }> {
    return this.withNew(input, 'path', async (loc) => {
      try {
        await this.mkdirAt(loc.at);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
        const st = await lstat(loc.at);
        if (!st.isDirectory()) throw new AgentError('ALREADY_EXISTS', `${loc.display} exists and is not a directory`);
      }
      return { path: loc.display };
    });
  }

  /** A directory for extraction and the like: the root is fine, anything else is created like mkdir -p. */
  async ensureDirectory(input: unknown, field: string): Promise<void> {
    const loc = await this.jail.locate(input, { follow: true, field }).catch((err) => {
      if (err instanceof AgentError && err.code === 'FILE_NOT_FOUND') return undefined;
      throw err;
    });
    const st = loc
      ? await this.statOf(loc).catch((err) => (errno(err) === 'ENOENT' ? undefined : Promise.reject(err)))
      : undefined;
    await loc?.close();
    if (!st) {
      await this.createDirectory(input);
      return;
    }
    if (!st.isDirectory()) throw new AgentError('NOT_A_DIRECTORY', `${field}: ${loc?.display} is not a directory`);
  }

  /** Refuses a recursive operation on `loc` when anything below it is denied. */
  private assertAllowedBelow(loc: Located, field: string): Promise<void> {
    return assertTreeAllowed(this.deny, loc.dir.fd, loc.name, loc.real, field, this.walkLimits);
  }

  /**
   * Recursive delete that never follows a link (tree-walk.ts). Refused whole, before anything is removed, when
   * the tree holds a denied path.
   */
  async delete(input: unknown): Promise<{ path: string; message: string }> {
    return this.with(input, { follow: false }, async (loc) => {
      if (!loc.name) throw new AgentError('INVALID_PATH', 'path: the server root cannot be deleted');
      await this.assertAllowedBelow(loc, 'path');
      const freed = await removeTree(loc.dir.fd, loc.name, loc.real, this.limits.walkMaxEntries);
      this.quota.adjust(-freed);
      return { path: loc.display, message: `${loc.display} deleted` };
    });
  }

  /** Whether the resolved `inner` lies in (or is) the resolved `outer`. */
  private static within(inner: string[], outer: string[]): boolean {
    return outer.length <= inner.length && outer.every((segment, i) => inner[i] === segment);
  }

  /** rename_file and move_file: the destination's parent is created; an existing destination is refused. */
  async move(from: unknown, to: unknown, fields: [string, string]): Promise<{ from: string; to: string }> {
    return this.with(from, { follow: false, field: fields[0] }, async (src) => {
      if (!src.name) throw new AgentError('INVALID_PATH', `${fields[0]}: the server root cannot be moved`);
      await lstat(src.at);
      await this.assertAllowedBelow(src, fields[0]);
      return this.withNew(to, fields[1], async (dst) => {
        if (await lstat(dst.at).catch(() => undefined)) {
          throw new AgentError('ALREADY_EXISTS', `${fields[1]}: ${dst.display} already exists`);
        }
        if (ServerFiles.within(dst.real, src.real)) {
          throw new AgentError('INVALID_PATH', `${fields[1]}: cannot move ${src.display} into itself`);
        }
        await rename(src.at, dst.at);
        return { from: src.display, to: dst.display };
      });
    });
  }

  /** Recursive, binary-safe copy; links and special files are skipped and counted (tree-ops.ts). */
  async copy(from: unknown, to: unknown): Promise<{ sourcePath: string; destinationPath: string; skipped: number }> {
    return this.with(from, { follow: true, field: 'sourcePath' }, async (src) => {
      if (!src.name) throw new AgentError('INVALID_PATH', 'sourcePath: the server root cannot be copied');
      const st = await lstat(src.at);
      if (!st.isFile() && !st.isDirectory()) {
        throw new AgentError('INVALID_PATH', `sourcePath: ${src.display} is ${kindOf(st)}`);
      }
      await this.assertAllowedBelow(src, 'sourcePath');
      return this.withNew(to, 'destinationPath', async (dst) => {
        if (await lstat(dst.at).catch(() => undefined)) {
          throw new AgentError('ALREADY_EXISTS', `destinationPath: ${dst.display} already exists`);
        }
        // Compared on resolved paths: `/link → /dir/sub` with link → dir is a copy of dir into itself.
        if (ServerFiles.within(dst.real, src.real)) {
          throw new AgentError('INVALID_PATH', `destinationPath: cannot copy ${src.display} into itself`);
        }
        const skipped = await copyTree(
          { parentFd: src.dir.fd, name: src.name, segments: src.real },
          { dirFd: dst.dir.fd, name: dst.name },
          { owner: this.owner, reserve: (n) => this.quota.reserve(n), adjust: (n) => this.quota.adjust(n) },
          this.walkLimits,
        );
        return { sourcePath: src.display, destinationPath: dst.display, skipped };
      });
    });
  }

  /**
   * The post-install walk (tree-sanitize.ts) over one directory below the root, addressed through the jail: for a
   * tree a helper container wrote as root (SteamCMD's download), whose files then belong to the game's user like
   * every other file, without special files or setuid bits.
   */
  async sanitize(input: unknown, field: string): Promise<SanitizeResult> {
    return this.with(input, { follow: false, field }, async (loc) => {
      if (!loc.name) throw new AgentError('INVALID_PATH', `${field}: the server root is sanitized by the install`);
      return sanitizeTree(loc.at, {
        owner: process.getuid?.() === 0 ? this.owner : undefined,
        maxEntries: this.limits.walkMaxEntries,
        maxDepth: this.limits.walkMaxDepth,
      });
    });
  }

  /**
   * chmod never follows a symlink and never opens a FIFO or device: the type is checked first, the target is
   * opened with O_NOFOLLOW | O_NONBLOCK and must still be that inode, then changed through the handle.
   */
  async setPermissions(input: unknown, mode: number): Promise<{ path: string; permissions: string }> {
    return this.with(input, { follow: false }, async (loc) => {
      if (!loc.name) throw new AgentError('INVALID_PATH', 'path: the permissions of the server root cannot be changed');
      const st = await lstat(loc.at);
      if (st.isSymbolicLink())
        throw new AgentError('INVALID_PATH', `${loc.display} is a symbolic link; chmod never follows links`);
      if (!st.isFile() && !st.isDirectory()) {
        throw new AgentError('INVALID_PATH', `${loc.display} is ${kindOf(st)}; only files and directories`);
      }
      const handle = st.isDirectory()
        ? await open(loc.at, NOFOLLOW_READ | constants.O_DIRECTORY)
        : await openRegular(loc.at, loc.display);
      try {
        const now = await handle.stat();
        if (now.ino !== st.ino || now.dev !== st.dev) {
          throw new AgentError('PATH_OUTSIDE_ROOT', `${loc.display} changed while being opened`);
        }
        await handle.chmod(mode);
      } finally {
        await handle.close();
      }
      return { path: loc.display, permissions: (mode & 0o7777).toString(8).padStart(3, '0') };
    });
  }

  /** search_files (file-search.ts). */
  search(input: unknown, query: string, fileType: 'file' | 'directory' | 'all') {
    return this.with(input, { follow: true }, (loc) =>
      searchFiles(this.jail, loc, query, fileType, this.limits, (segments, st) => this.info(segments, st)),
    );
  }
}
