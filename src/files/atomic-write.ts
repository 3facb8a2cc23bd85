import { constants } from 'node:fs';
import { type FileHandle, lstat, open, rename, unlink } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { type Located, tempBeside } from './jail.js';
import { canChown, type Owner } from './owner.js';
import type { Quota } from './quota.js';

/** A file that must not exist yet, never through a link: a temporary name or a copy's target. */
export const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Mode and owner of a freshly written file, through a handle that does not follow links; returns its size. */
export async function finishFile(at: string, mode: number, owner: Owner | undefined): Promise<number> {
  const handle = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
    if (canChown(owner)) await handle.chown(owner.uid, owner.gid);
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

/**
 * Replaces a located target through a temporary file beside it (same held directory, so the rename is atomic):
 * `fill` writes the new file (mode 644 until it says otherwise), then it is renamed over the target. A failure
 * anywhere, the rename included, closes the handle and removes the temporary file: the target stays as it was.
 */
export async function replaceViaTemp<T>(
  loc: Pick<Located, 'dir' | 'name' | 'at'>,
  fill: (handle: FileHandle, tmpAt: string) => Promise<T>,
): Promise<T> {
  const tmpAt = tempBeside(loc);
  const handle = await open(tmpAt, WRITE_NEW, 0o644);
  try {
    const result = await fill(handle, tmpAt);
    await rename(tmpAt, loc.at);
    return result;
  } catch (err) {
    // A second close is a no-op: `fill` may have closed the handle itself (or a stream that owned it did).
    await handle.close().catch(() => undefined);
    await unlink(tmpAt).catch(() => undefined);
    throw err;
  }
}

/**
 * The one atomic writer: a temporary file beside the target (same held directory), filled by `fill`, fsync'ed,
 * given mode 644 and the game's owner, then renamed over the target. `fill` receives the handle and the number
 * of bytes the quota still allows (the bound to enforce while data flows) and returns the bytes written. A
 * failure anywhere removes the temporary file and leaves the target as it was.
 */
export async function writeAtomicAt(
  loc: Located,
  fill: (handle: FileHandle, headroom: number) => Promise<number>,
  sandbox: { quota: Quota; owner: Owner | undefined },
  options: { fsync?: boolean },
): Promise<{ path: string; size: number; modified: string }> {
  const { quota, owner } = sandbox;
  const previous = await lstat(loc.at).catch(() => undefined);
  if (previous?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
  const replaced = previous?.isFile() ? previous.size : 0;
  const written = await replaceViaTemp(loc, async (handle) => {
    try {
      const bytes = await fill(handle, (await quota.headroom()) + replaced);
      await quota.reserve(bytes - replaced);
      if (options.fsync !== false) await handle.sync();
      await handle.chmod(0o644);
      if (canChown(owner)) await handle.chown(owner.uid, owner.gid);
      return bytes;
    } finally {
      await handle.close();
    }
  });
  quota.adjust(written - replaced);
  const st = await lstat(loc.at);
  return { path: loc.display, size: st.size, modified: st.mtime.toISOString() };
}
