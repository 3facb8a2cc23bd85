import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { AgentError } from '../errors.js';
import { errno } from './fs-errors.js';
import type { Located } from './jail.js';
import { canChown, type Owner } from './owner.js';

/** mkdir for a located path: mode 755 and owned by the game's user, like every directory the agent makes. */
export async function makeDirectory(at: string, owner: Owner | undefined): Promise<void> {
  await mkdir(at, { mode: 0o755 });
  if (canChown(owner)) {
    const handle = await open(at, constants.O_DIRECTORY | constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      await handle.chown(owner.uid, owner.gid);
    } finally {
      await handle.close();
    }
  }
}

/** create_directory on a path located for creation: an existing directory is fine, anything else in the way is not. */
export async function createDirectoryAt(
  loc: Located,
  mkdirAt: (at: string) => Promise<void>,
): Promise<{ path: string }> {
  try {
    await mkdirAt(loc.at);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    const st = await lstat(loc.at);
    if (!st.isDirectory()) throw new AgentError('ALREADY_EXISTS', `${loc.display} exists and is not a directory`);
  }
  return { path: loc.display };
}
