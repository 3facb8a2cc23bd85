import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { writeAtomicAt } from './atomic-write.js';
import type { DenyList } from './deny-list.js';
import { createDirectoryAt, makeDirectory } from './directories.js';
import { type FileInfo, fileInfo, type IdNames } from './file-info.js';
import { type Download, listDirectory, openDownload, readFileAt, statOf } from './file-reads.js';
import { searchFiles } from './file-search.js';
import { errno, fsError } from './fs-errors.js';
import { Jail, type Located } from './jail.js';
import { assertCopyable, assertMovable, copyTo, moveTo } from './move-copy.js';
import { canChown, type Owner } from './owner.js';
import { displayPath } from './path-rules.js';
import { diskLimit, type Quota } from './quota.js';
import { setPermissionsAt } from './set-permissions.js';
import { assertTreeAllowed, removeTree } from './tree-ops.js';
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

/**
 * The sandbox's one entry for a server's files. This class locates each path through the jail, maps errno
 * failures to catalogue errors and releases the handles; what each operation does on the located path lives in
 * a module of its own (file-reads, atomic-write, directories, move-copy, set-permissions, tree-ops).
 */
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

  /** mkdir for a located path: mode 755 and owned by the game's user, like every directory the agent makes. */
  readonly mkdirAt = (at: string): Promise<void> => makeDirectory(at, this.owner);

  private async info(segments: string[], st: Stats): Promise<FileInfo> {
    if (!st.isSymbolicLink()) return fileInfo(displayPath(segments), st, this.names);
    return fileInfo(displayPath(segments), st, this.names, { target: await this.jail.linkTarget(segments) });
  }

  async list(input: unknown): Promise<{ path: string; files: FileInfo[]; truncated: boolean }> {
    return this.with(input, { follow: true }, (loc) =>
      listDirectory(loc, this.limits.listMaxEntries, (segments, st) => this.info(segments, st)),
    );
  }

  async fileInfo(input: unknown): Promise<FileInfo> {
    return this.with(input, { follow: false }, async (loc) => this.info(loc.segments, await statOf(loc)));
  }

  async read(input: unknown, maxBytes = this.limits.readMaxBytes, what = 'read_file') {
    return this.with(input, { follow: true }, (loc) => readFileAt(loc, maxBytes, what));
  }

  /** Opens a regular file for a streamed download (file-reads.ts: the caller sends a range or closes it). */
  async openForDownload(input: unknown): Promise<Download> {
    return this.with(input, { follow: true }, openDownload);
  }

  /**
   * The one atomic writer (atomic-write.ts): `fill` receives the temporary file's handle and the bytes the quota
   * still allows, and returns the bytes written; the target is replaced only once all of it is on disk.
   */
  async writeAtomic(
    input: unknown,
    field: string,
    fill: (handle: FileHandle, headroom: number) => Promise<number>,
    options: { fsync?: boolean } = {},
  ): Promise<{ path: string; size: number; modified: string }> {
    return this.withNew(input, field, (loc) =>
      writeAtomicAt(loc, fill, { quota: this.quota, owner: this.owner }, options),
    );
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
    return this.withNew(input, 'path', (loc) => createDirectoryAt(loc, this.mkdirAt));
  }

  /** A directory for extraction and the like: the root is fine, anything else is created like mkdir -p. */
  async ensureDirectory(input: unknown, field: string): Promise<void> {
    const loc = await this.jail.locate(input, { follow: true, field }).catch((err) => {
      if (err instanceof AgentError && err.code === 'FILE_NOT_FOUND') return undefined;
      throw err;
    });
    const st = loc
      ? await statOf(loc).catch((err) => (errno(err) === 'ENOENT' ? undefined : Promise.reject(err)))
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

  /** rename_file and move_file: the destination's parent is created; an existing destination is refused. */
  async move(from: unknown, to: unknown, fields: [string, string]): Promise<{ from: string; to: string }> {
    return this.with(from, { follow: false, field: fields[0] }, async (src) => {
      await assertMovable(src, fields[0]);
      await this.assertAllowedBelow(src, fields[0]);
      return this.withNew(to, fields[1], (dst) => moveTo(src, dst, fields[1]));
    });
  }

  /** Recursive, binary-safe copy; links and special files are skipped and counted (tree-ops.ts). */
  async copy(from: unknown, to: unknown): Promise<{ sourcePath: string; destinationPath: string; skipped: number }> {
    return this.with(from, { follow: true, field: 'sourcePath' }, async (src) => {
      await assertCopyable(src);
      await this.assertAllowedBelow(src, 'sourcePath');
      const hooks = {
        owner: this.owner,
        reserve: (n: number) => this.quota.reserve(n),
        adjust: (n: number) => this.quota.adjust(n),
      };
      return this.withNew(to, 'destinationPath', (dst) => copyTo(src, dst, hooks, this.walkLimits));
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
        owner: canChown(this.owner) ? this.owner : undefined,
        maxEntries: this.limits.walkMaxEntries,
        maxDepth: this.limits.walkMaxDepth,
      });
    });
  }

  /** chmod through a handle, never following a link nor opening a FIFO or device (set-permissions.ts). */
  async setPermissions(input: unknown, mode: number): Promise<{ path: string; permissions: string }> {
    return this.with(input, { follow: false }, (loc) => setPermissionsAt(loc, mode));
  }

  /** search_files (file-search.ts). */
  search(input: unknown, query: string, fileType: 'file' | 'directory' | 'all') {
    return this.with(input, { follow: true }, (loc) =>
      searchFiles(this.jail, loc, query, fileType, this.limits, (segments, st) => this.info(segments, st)),
    );
  }
}
