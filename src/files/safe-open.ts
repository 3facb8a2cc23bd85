import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open } from 'node:fs/promises';
import { AgentError } from '../errors.js';

/**
 * The one way the sandbox opens a tenant's file for its contents. A game can leave a FIFO, a socket or a device
 * node where a file is expected (or swap one in at any moment): a blocking open of a FIFO parks a libuv thread
 * until a writer appears (four of them froze every file operation of every server), a FIFO with a writer never
 * ends, and a device node would be read with the agent's (root's) rights. So:
 *   1. lstat first: anything but a regular file is refused before any open (no side effect of opening a device);
 *   2. open with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY: a FIFO swapped in after step 1 opens at once instead of
 *      blocking, a symlink swapped in fails with ELOOP;
 *   3. fstat the handle: it must be a regular file and the same inode step 1 saw.
 * O_NONBLOCK has no effect on regular files, so reads and writes through the handle behave as usual.
 */

const OPEN_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device node';
  return 'not a regular file';
}

function refuse(shown: string, st: Stats): AgentError {
  if (st.isDirectory()) return new AgentError('IS_A_DIRECTORY', `${shown} is a directory`);
  return new AgentError('INVALID_PATH', `${shown} is ${kindOf(st)}; only regular files can be opened`);
}

/** Opens `at` (an fd-relative path from the jail) for reading a regular file; refuses every other kind. */
export async function openRegular(at: string, shown: string, flags = constants.O_RDONLY): Promise<FileHandle> {
  const before = await lstat(at);
  if (!before.isFile()) throw refuse(shown, before);
  const handle = await open(at, flags | OPEN_FLAGS);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse(shown, st);
    if (st.ino !== before.ino || st.dev !== before.dev) {
      throw new AgentError('PATH_OUTSIDE_ROOT', `${shown} changed while being opened`);
    }
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads a whole regular file, at most `maxBytes`: the size is enforced on the bytes read, not on the size
 * fstat reported (the game may be appending to the file while we read it).
 */
export async function readBounded(handle: FileHandle, maxBytes: number, shown: string, what: string): Promise<Buffer> {
  const st = await handle.stat();
  const tooLarge = (size: number) =>
    new AgentError('FILE_TOO_LARGE', `${shown} is ${size} bytes; ${what} takes at most ${maxBytes}`);
  if (st.size > maxBytes) throw tooLarge(st.size);
  const chunks: Buffer[] = [];
  let total = 0;
  const chunkSize = Math.min(Math.max(st.size + 1, 64 * 1024), 4 * 1024 * 1024);
  for (;;) {
    const buffer = Buffer.allocUnsafe(Math.min(chunkSize, maxBytes - total + 1));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(total);
    chunks.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
}
