import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import type { Located } from './jail.js';
import { kindOf, openRegular } from './safe-open.js';

/**
 * chmod never follows a symlink and never opens a FIFO or device: the type is checked first, the target is
 * opened with O_NOFOLLOW | O_NONBLOCK and must still be that inode, then changed through the handle.
 */
export async function setPermissionsAt(loc: Located, mode: number): Promise<{ path: string; permissions: string }> {
  if (!loc.name) throw new AgentError('INVALID_PATH', 'path: the permissions of the server root cannot be changed');
  const st = await lstat(loc.at);
  if (st.isSymbolicLink())
    throw new AgentError('INVALID_PATH', `${loc.display} is a symbolic link; chmod never follows links`);
  if (!st.isFile() && !st.isDirectory()) {
    throw new AgentError('INVALID_PATH', `${loc.display} is ${kindOf(st)}; only files and directories`);
  }
  const handle = st.isDirectory()
    ? await open(loc.at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY)
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
}
