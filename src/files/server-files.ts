import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { compareEntries, type FileInfo, fileInfo, type IdNames } from './file-info.js';
import { fdPath, Jail, type Located, tempBeside } from './jail.js';
import { displayPath } from './path-rules.js';

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
}

export interface Quota {
  /** Throws DISK_LIMIT when `deltaBytes` more would exceed the server's limit. */
  reserve(deltaBytes: number): Promise<void>;
  adjust(deltaBytes: number): void;
}

const NOFOLLOW_READ = constants.O_RDONLY | constants.O_NOFOLLOW;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Maps the few errno values a file action can meet to catalogue errors naming the path. */
export function fsError(err: unknown, shown: string): AgentError {
  if (err instanceof AgentError) return err;
  switch (errno(err)) {
    case 'ENOENT':
      return new AgentError('FILE_NOT_FOUND', `${shown} does not exist`);
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new AgentError('ALREADY_EXISTS', `${shown} already exists`);
    case 'ENOTDIR':
      return new AgentError('NOT_A_DIRECTORY', `${shown} is not a directory`);
    case 'EISDIR':
      return new AgentError('IS_A_DIRECTORY', `${shown} is a directory`);
    case 'ELOOP':
      return new AgentError('PATH_OUTSIDE_ROOT', `${shown} is a symbolic link that cannot be followed here`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new AgentError('DISK_LIMIT', `no space left for ${shown}`);
    case 'EACCES':
    case 'EPERM':
      return new AgentError('PERMISSION_DENIED', `permission denied on ${shown}`);
    case 'ENAMETOOLONG':
      return new AgentError('INVALID_PATH', `${shown}: name too long`);
    default:
      return new AgentError('INTERNAL_ERROR', `file operation on ${shown} failed`, undefined, { cause: err });
  }
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
    private readonly owner: { uid: number; gid: number } | undefined,
    private readonly quota: Quota,
  ) {
    this.jail = new Jail(root);
  }

  /** Runs `fn` with a located path and always releases the directory handle. */
  private async with<T>(
    input: unknown,
    options: { follow: boolean; field?: string },
    fn: (loc: Located) => Promise<T>,
  ): Promise<T> {
    const loc = await this.jail.locate(input, options);
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

  async list(input: unknown): Promise<{ path: string; files: FileInfo[]; truncated: boolean }> {
    return this.with(input, { follow: true }, async (loc) => {
      const dirAt = loc.name ? loc.at : fdPath(loc.dir.fd);
      const st = await stat(dirAt);
      if (!st.isDirectory()) throw new AgentError('NOT_A_DIRECTORY', `${loc.display} is not a directory`);
      const handle = loc.name
        ? await open(dirAt, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
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
    return this.with(input, { follow: false }, async (loc) => {
      const st = await lstat(loc.name ? loc.at : fdPath(loc.dir.fd));
      return this.info(loc.segments, st);
    });
  }

  /** Opens the file for reading without following a final symlink swapped in after resolution. */
  private async openFile(loc: Located, maxBytes: number, what: string) {
    if (!loc.name) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
    const handle = await open(loc.at, NOFOLLOW_READ);
    const st = await handle.stat();
    if (st.isDirectory()) {
      await handle.close();
      throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
    }
    if (st.size > maxBytes) {
      await handle.close();
      throw new AgentError('FILE_TOO_LARGE', `${loc.display} is ${st.size} bytes; ${what} takes at most ${maxBytes}`);
    }
    return { handle, st };
  }

  async read(input: unknown, maxBytes = this.limits.readMaxBytes, what = 'read_file') {
    return this.with(input, { follow: true }, async (loc) => {
      const { handle, st } = await this.openFile(loc, maxBytes, what);
      try {
        return { path: loc.display, bytes: await handle.readFile(), modified: st.mtime.toISOString() };
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * Writes atomically: a temporary file beside the target, fsync, owner and mode, then rename over it. Parent
   * directories are created. The disk limit is checked against the size difference first.
   */
  async write(input: unknown, bytes: Buffer): Promise<{ path: string; size: number; modified: string }> {
    const loc = await this.jail.locateForCreate(input, 'path', this.mkdirAt);
    try {
      const previous = await lstat(loc.at).catch(() => undefined);
      if (previous?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
      const delta = bytes.length - (previous?.isFile() ? previous.size : 0);
      await this.quota.reserve(delta);
      const tmpAt = tempBeside(loc);
      const handle = await open(
        tmpAt,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      try {
        await handle.writeFile(bytes);
        await handle.sync();
        await handle.chmod(0o644);
        if (this.owner && process.getuid?.() === 0) await handle.chown(this.owner.uid, this.owner.gid);
      } catch (err) {
        await handle.close();
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
      await handle.close();
      try {
        await rename(tmpAt, loc.at);
      } catch (err) {
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
      this.quota.adjust(delta);
      const st = await lstat(loc.at);
      return { path: loc.display, size: st.size, modified: st.mtime.toISOString() };
    } catch (err) {
      throw fsError(err, loc.display);
    } finally {
      await loc.close();
    }
  }

  async createDirectory(input: unknown): Promise<{ path: string }> {
    const loc = await this.jail.locateForCreate(input, 'path', this.mkdirAt);
    try {
      try {
        await this.mkdirAt(loc.at);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
        const st = await lstat(loc.at);
        if (!st.isDirectory()) throw new AgentError('ALREADY_EXISTS', `${loc.display} exists and is not a directory`);
      }
      return { path: loc.display };
    } catch (err) {
      throw fsError(err, loc.display);
    } finally {
      await loc.close();
    }
  }

  /**
   * Recursive delete that never follows a link: each directory is opened with O_NOFOLLOW from its parent's
   * handle, so a directory swapped for a symlink mid-walk is unlinked as a link, never descended into.
   */
  private async removeAt(parentFd: number, name: string): Promise<number> {
    const at = fdPath(parentFd, name);
    const st = await lstat(at);
    if (!st.isDirectory()) {
      await unlink(at);
      return st.blocks * 512;
    }
    let freed = 0;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      if (errno(err) !== 'ELOOP' && errno(err) !== 'ENOTDIR') throw err;
      await unlink(at);
      return 0;
    }
    try {
      for (const child of await readdir(fdPath(handle.fd))) freed += await this.removeAt(handle.fd, child);
    } finally {
      await handle.close();
    }
    await rmdir(at);
    return freed;
  }

  async delete(input: unknown): Promise<{ path: string; message: string }> {
    return this.with(input, { follow: false }, async (loc) => {
      if (!loc.name) throw new AgentError('INVALID_PATH', 'path: the server root cannot be deleted');
      const freed = await this.removeAt(loc.dir.fd, loc.name);
      this.quota.adjust(-freed);
      return { path: loc.display, message: `${loc.display} deleted` };
    });
  }

  /** rename_file and move_file: the destination's parent is created; an existing destination is refused. */
  async move(from: unknown, to: unknown, fields: [string, string]): Promise<{ from: string; to: string }> {
    return this.with(from, { follow: false, field: fields[0] }, async (src) => {
      if (!src.name) throw new AgentError('INVALID_PATH', `${fields[0]}: the server root cannot be moved`);
      await lstat(src.at);
      const dst = await this.jail.locateForCreate(to, fields[1], this.mkdirAt);
      try {
        if (await lstat(dst.at).catch(() => undefined)) {
          throw new AgentError('ALREADY_EXISTS', `${fields[1]}: ${dst.display} already exists`);
        }
        if (`${dst.display}/`.startsWith(`${src.display}/`)) {
          throw new AgentError('INVALID_PATH', `${fields[1]}: cannot move ${src.display} into itself`);
        }
        await rename(src.at, dst.at);
        return { from: src.display, to: dst.display };
      } catch (err) {
        throw fsError(err, dst.display);
      } finally {
        await dst.close();
      }
    });
  }

  /** Recursive, binary-safe copy; symlinks are not copied (their meaning would change in a new place). */
  async copy(from: unknown, to: unknown): Promise<{ sourcePath: string; destinationPath: string; skipped: number }> {
    return this.with(from, { follow: true, field: 'sourcePath' }, async (src) => {
      if (!src.name) throw new AgentError('INVALID_PATH', 'sourcePath: the server root cannot be copied');
      const dst = await this.jail.locateForCreate(to, 'destinationPath', this.mkdirAt);
      try {
        if (await lstat(dst.at).catch(() => undefined)) {
          throw new AgentError('ALREADY_EXISTS', `destinationPath: ${dst.display} already exists`);
        }
        if (`${dst.display}/`.startsWith(`${src.display}/`)) {
          throw new AgentError('INVALID_PATH', `destinationPath: cannot copy ${src.display} into itself`);
        }
        const skipped = await this.copyAt(src.dir.fd, src.name, dst.dir.fd, dst.name);
        return { sourcePath: src.display, destinationPath: dst.display, skipped };
      } catch (err) {
        throw fsError(err, dst.display);
      } finally {
        await dst.close();
      }
    });
  }

  private async copyAt(srcDirFd: number, srcName: string, dstDirFd: number, dstName: string): Promise<number> {
    const st = await lstat(fdPath(srcDirFd, srcName));
    if (st.isSymbolicLink() || (!st.isFile() && !st.isDirectory())) return 1;
    if (st.isFile()) {
      await this.quota.reserve(st.size);
      const input = await open(fdPath(srcDirFd, srcName), NOFOLLOW_READ);
      try {
        const output = await open(
          fdPath(dstDirFd, dstName),
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          st.mode & 0o777,
        );
        try {
          const buffer = Buffer.allocUnsafe(1024 * 1024);
          for (;;) {
            const { bytesRead } = await input.read(buffer, 0, buffer.length);
            if (bytesRead === 0) break;
            await output.write(buffer, 0, bytesRead);
          }
          if (this.owner && process.getuid?.() === 0) await output.chown(this.owner.uid, this.owner.gid);
        } finally {
          await output.close();
        }
      } finally {
        await input.close();
      }
      this.quota.adjust(st.size);
      return 0;
    }
    await this.mkdirAt(fdPath(dstDirFd, dstName));
    const srcDir = await open(
      fdPath(srcDirFd, srcName),
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
    const dstDir = await open(
      fdPath(dstDirFd, dstName),
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
    let skipped = 0;
    try {
      for (const child of await readdir(fdPath(srcDir.fd)))
        skipped += await this.copyAt(srcDir.fd, child, dstDir.fd, child);
    } finally {
      await srcDir.close();
      await dstDir.close();
    }
    return skipped;
  }

  /** chmod never follows a symlink: the target is opened with O_NOFOLLOW and changed through the handle. */
  async setPermissions(input: unknown, mode: number): Promise<{ path: string; permissions: string }> {
    return this.with(input, { follow: false }, async (loc) => {
      if (!loc.name) throw new AgentError('INVALID_PATH', 'path: the permissions of the server root cannot be changed');
      const st = await lstat(loc.at);
      if (st.isSymbolicLink())
        throw new AgentError('INVALID_PATH', `${loc.display} is a symbolic link; chmod never follows links`);
      const handle = await open(loc.at, NOFOLLOW_READ | (st.isDirectory() ? constants.O_DIRECTORY : 0));
      try {
        await handle.chmod(mode);
      } finally {
        await handle.close();
      }
      return { path: loc.display, permissions: (mode & 0o7777).toString(8).padStart(3, '0') };
    });
  }

  /** search_files: case-insensitive substring on names, breadth-first, never through a symlinked directory. */
  async search(
    input: unknown,
    query: string,
    fileType: 'file' | 'directory' | 'all',
  ): Promise<{ path: string; files: FileInfo[]; total: number; truncated: boolean }> {
    return this.with(input, { follow: true }, async (loc) => {
      const deadline = Date.now() + this.limits.searchTimeMs;
      const needle = query.toLowerCase();
      const files: FileInfo[] = [];
      let truncated = false;
      const queue: { segments: string[]; depth: number }[] = [{ segments: loc.segments, depth: 0 }];
      while (queue.length > 0) {
        const { segments, depth } = queue.shift() as { segments: string[]; depth: number };
        if (Date.now() > deadline) {
          truncated = true;
          break;
        }
        let names: string[];
        let handle: Awaited<ReturnType<typeof open>> | undefined;
        try {
          handle = await this.jail.openDir(segments, displayPath(segments));
          names = await readdir(fdPath(handle.fd));
        } catch {
          await handle?.close();
          continue; // vanished or swapped mid-walk: skip it
        }
        try {
          for (const name of names) {
            const st = await lstat(fdPath(handle.fd, name)).catch(() => undefined);
            if (!st) continue;
            const childSegments = [...segments, name];
            const kind = st.isDirectory() ? 'directory' : 'file';
            if (name.toLowerCase().includes(needle) && (fileType === 'all' || fileType === kind)) {
              if (files.length >= this.limits.searchMaxResults) {
                truncated = true;
                break;
              }
              files.push(await this.info(childSegments, st));
            }
            if (st.isDirectory() && depth + 1 < this.limits.searchMaxDepth) {
              queue.push({ segments: childSegments, depth: depth + 1 });
            }
          }
        } finally {
          await handle.close();
        }
        if (files.length >= this.limits.searchMaxResults && truncated) break;
      }
      files.sort(compareEntries);
      return { path: loc.display, files, total: files.length, truncated };
    });
  }
}
