import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../errors.js';
import type { DenyList } from './deny-list.js';
import { displayPath, toSegments } from './path-rules.js';

/**
 * Race-free resolution inside a server's directory. The game server runs arbitrary code and can swap any
 * directory for a symlink at any moment, so a path is never checked and then used by name:
 *
 *  1. the path is resolved once with realpath (symlinks inside the jail are allowed) and must land inside;
 *  2. the resolved path is then walked from an open handle on the root, one component at a time, with
 *     O_NOFOLLOW | O_DIRECTORY: a component swapped for a symlink since step 1 makes the open fail;
 *  3. the operation then addresses `/proc/self/fd/<dir handle>/<name>`, a single name inside a directory we
 *     hold open, so renaming or replacing an ancestor no longer changes what it refers to.
 *
 * The final component is opened with O_NOFOLLOW as well, or not followed at all for unlink, rename and chmod.
 */

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export interface Located {
  /** An open handle on the directory that contains the target (the root itself for the root). */
  dir: Awaited<ReturnType<typeof open>>;
  /** The target's name inside `dir`; empty for the root. */
  name: string;
  /** `/proc/self/fd/<dir>/<name>`: a path that only ever means this name in that directory. */
  at: string;
  /** The path as the client should see it (lexically normalised, from the root). */
  display: string;
  /** The segments of the lexical path. */
  segments: string[];
  /** The segments of the resolved path (symlinks inside the jail followed where the operation follows them). */
  real: string[];
  close(): Promise<void>;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** At most `maxBytes` of UTF-8, cut at a character boundary (names are limited in bytes, not UTF-16 units). */
export function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    bytes += Buffer.byteLength(ch);
    if (bytes > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * A fresh temporary name beside a located target, in the same held directory (so the final rename is atomic).
 * At most 1 + 64 + 1 + 12 + 4 = 82 bytes, so any valid target name (up to 255 bytes) has a valid temporary.
 */
export function tempBeside(loc: Pick<Located, 'dir' | 'name'>): string {
  return fdPath(loc.dir.fd, `.${truncateUtf8(loc.name, 64)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** A Located for the held directory `dir`, whose entry is the last of `real` (none for the root). */
function located(dir: Located['dir'], segments: string[], real: string[]): Located {
  const name = real[real.length - 1] ?? '';
  return {
    dir,
    name,
    at: fdPath(dir.fd, name),
    display: displayPath(segments),
    segments,
    real,
    close: () => dir.close(),
  };
}

export function fdPath(fd: number, name = ''): string {
  return name ? `/proc/self/fd/${fd}/${name}` : `/proc/self/fd/${fd}`;
}

export class Jail {
  private rootReal: string | undefined;

  constructor(
    readonly root: string,
    readonly deny: DenyList,
  ) {}

  private async realRoot(): Promise<string> {
    this.rootReal ??= await realpath(this.root);
    return this.rootReal;
  }

  private inside(real: string, rootReal: string): boolean {
    return real === rootReal || real.startsWith(`${rootReal}/`);
  }

  /**
   * realpath of the longest existing prefix, plus the rest as given. A dangling symlink in the middle is
   * resolved by hand (its target may be created by this very operation).
   */
  private async resolveReal(segments: string[], rootReal: string): Promise<string> {
    let existing = rootReal;
    let i = 0;
    for (; i < segments.length; i++) {
      const next = path.join(existing, segments[i] as string);
      try {
        existing = await realpath(next);
      } catch (err) {
        if (errno(err) === 'ELOOP') {
          throw new AgentError('INVALID_PATH', `${displayPath(segments)} is a symbolic link loop`);
        }
        if (errno(err) === 'ENOTDIR') {
          throw new AgentError('NOT_A_DIRECTORY', `a parent of ${displayPath(segments)} is not a directory`);
        }
        if (errno(err) !== 'ENOENT') throw err;
        // A dangling symlink: follow its text, so a link to /etc/nonexistent is still outside.
        const link = await readlink(next).catch(() => undefined);
        if (link !== undefined) existing = path.resolve(existing, link);
        else break;
        if (!this.inside(existing, rootReal)) return existing;
        i++;
        break;
      }
      if (!this.inside(existing, rootReal)) return existing;
    }
    return path.join(existing, ...segments.slice(i));
  }

  /**
   * Locates `input` for an operation. `follow`: resolve a final symlink (read, list, write through a link that
   * stays inside); without it the final name is taken as is (delete, rename, chmod act on the link itself).
   */
  async locate(input: unknown, options: { follow: boolean; field?: string }): Promise<Located> {
    const field = options.field ?? 'path';
    const segments = toSegments(input, field);
    const rootReal = await this.realRoot();
    let parts: string[];
    if (segments.length === 0) parts = [];
    else if (options.follow) {
      const real = await this.resolveReal(segments, rootReal);
      if (!this.inside(real, rootReal)) {
        throw new AgentError(
          'PATH_OUTSIDE_ROOT',
          `${field}: ${displayPath(segments)} resolves outside the server directory`,
        );
      }
      parts = path.relative(rootReal, real).split('/').filter(Boolean);
    } else {
      const parentReal = await this.resolveReal(segments.slice(0, -1), rootReal);
      if (!this.inside(parentReal, rootReal)) {
        throw new AgentError(
          'PATH_OUTSIDE_ROOT',
          `${field}: ${displayPath(segments)} resolves outside the server directory`,
        );
      }
      parts = [
        ...path.relative(rootReal, parentReal).split('/').filter(Boolean),
        segments[segments.length - 1] as string,
      ];
    }
    // The denylist on the lexical and on the resolved segments.
    this.deny.assertAllowed(field, displayPath(segments), segments, parts);
    const dir = await this.openDirChain(rootReal, parts.slice(0, -1), field, displayPath(segments));
    return located(dir, segments, parts);
  }

  /** Opens root/…/parts as a chain of O_NOFOLLOW directory handles; `create` makes missing ones (mkdir -p). */
  async openDirChain(
    rootReal: string,
    parts: string[],
    field: string,
    shown: string,
    create?: (at: string) => Promise<void>,
  ): Promise<Awaited<ReturnType<typeof open>>> {
    let dir = await open(rootReal, DIR_FLAGS);
    try {
      for (const part of parts) {
        const at = fdPath(dir.fd, part);
        let next: Awaited<ReturnType<typeof open>>;
        try {
          next = await open(at, DIR_FLAGS);
        } catch (err) {
          const code = errno(err);
          if (code === 'ENOENT' && create) {
            await create(at);
            next = await open(at, DIR_FLAGS);
          } else if (code === 'ENOENT') {
            throw new AgentError('FILE_NOT_FOUND', `${field}: ${shown} does not exist`);
          } else if (code === 'ELOOP') {
            // It was a real directory when resolved and is a symlink now: somebody is racing us.
            throw new AgentError('PATH_OUTSIDE_ROOT', `${field}: ${shown} changed while being resolved`);
          } else if (code === 'ENOTDIR') {
            const st = await lstat(at).catch(() => undefined);
            if (st?.isSymbolicLink()) {
              throw new AgentError('PATH_OUTSIDE_ROOT', `${field}: ${shown} changed while being resolved`);
            }
            throw new AgentError('NOT_A_DIRECTORY', `${field}: a parent of ${shown} is not a directory`);
          } else throw err;
        }
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (err) {
      await dir.close().catch(() => undefined);
      throw err;
    }
  }

  /** Opens a directory by its real segments from the root (no symlink may appear on the way). */
  async openDir(segments: string[], shown: string): Promise<Awaited<ReturnType<typeof open>>> {
    return this.openDirChain(await this.realRoot(), segments, 'path', shown);
  }

  /** The directory that will contain `input`, created like `mkdir -p` (for writes, uploads, copies). */
  async locateForCreate(input: unknown, field: string, mkdirAt: (at: string) => Promise<void>): Promise<Located> {
    const segments = toSegments(input, field);
    if (segments.length === 0) throw new AgentError('INVALID_PATH', `${field}: the server root is not a file`);
    const rootReal = await this.realRoot();
    const parentReal = await this.resolveReal(segments.slice(0, -1), rootReal);
    if (!this.inside(parentReal, rootReal)) {
      throw new AgentError(
        'PATH_OUTSIDE_ROOT',
        `${field}: ${displayPath(segments)} resolves outside the server directory`,
      );
    }
    const parts = path.relative(rootReal, parentReal).split('/').filter(Boolean);
    const name = segments[segments.length - 1] as string;
    this.deny.assertAllowed(field, displayPath(segments), segments, [...parts, name]);
    const dir = await this.openDirChain(rootReal, parts, field, displayPath(segments), mkdirAt);
    return located(dir, segments, [...parts, name]);
  }

  /**
   * The lstat of a symlink's final target when it stays inside the jail; undefined when it leaves, dangles or
   * loops. The target is located like any other path and stat'ed through its held parent without following,
   * so a link swapped to point outside between the resolution and the stat shows as a link, never as the
   * outside file.
   */
  async linkTarget(segments: string[]): Promise<Stats | undefined> {
    let loc: Located;
    try {
      loc = await this.locate(displayPath(segments), { follow: true });
    } catch {
      return undefined;
    }
    try {
      const st = loc.name ? await lstat(loc.at) : await loc.dir.stat();
      return st.isSymbolicLink() ? undefined : st;
    } catch {
      return undefined;
    } finally {
      await loc.close();
    }
  }
}
