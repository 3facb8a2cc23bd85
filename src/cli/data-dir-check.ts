import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { dataDirLayout } from '../config/data-dir.js';
import { DATA_DIR_FORMAT, readDataDirFormat } from '../config/data-format.js';
import type { Check } from './doctor-report.js';

/** doctor's checks of the data directory: usable by this user, its format, the token file's mode. Reads only. */

/** The nearest directory that exists at or above `dir`. */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

/** The directory is not there yet: fine if this user may create it where it would go. */
async function missingDataDirCheck(dir: string): Promise<Check> {
  const parent = await existingAncestor(dir);
  const writable = await access(parent, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  return {
    name: 'data-dir',
    status: writable ? 'ok' : 'fail',
    detail: writable
      ? `${dir} does not exist yet; the agent creates it (mode 0711) at its first start`
      : `${dir} does not exist and ${parent} is not writable by this user`,
    fix: `create ${dir} writable by the agent's user, or set AGENT_DATA_DIR`,
  };
}

async function dataFormatCheck(dir: string): Promise<Check> {
  try {
    const format = await readDataDirFormat(dir);
    return {
      name: 'data-format',
      status: format !== undefined && format > DATA_DIR_FORMAT ? 'fail' : 'ok',
      detail:
        format === undefined
          ? `no format file yet (stamped with ${DATA_DIR_FORMAT} at the next start)`
          : `format ${format} (this agent reads up to ${DATA_DIR_FORMAT})`,
      fix: 'a newer agent wrote this directory: run that version, or restore the backup taken before the upgrade',
    };
  } catch (err) {
    return { name: 'data-format', status: 'fail', detail: (err as Error).message };
  }
}

/** The token file's mode, when there is one: nobody but the agent's user may read it. */
async function tokenFileCheck(dir: string): Promise<Check | undefined> {
  const token = dataDirLayout(dir).token;
  const tokenMode = await stat(token).then(
    (s) => s.mode & 0o777,
    () => undefined,
  );
  if (tokenMode === undefined) return undefined;
  return {
    name: 'token-file',
    status: (tokenMode & 0o077) === 0 ? 'ok' : 'fail',
    detail: `${token} has mode ${tokenMode.toString(8).padStart(4, '0')}`,
    fix: `chmod 600 ${token}`,
  };
}

export async function checkDataDir(dir: string): Promise<Check[]> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return [{ name: 'data-dir', status: 'fail', detail: `${dir}: ${(err as Error).message}`, fix: `check ${dir}` }];
    }
    return [await missingDataDirCheck(dir)];
  }
  const usable = await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  const worldWritable = (st.mode & 0o002) !== 0;
  const checks: Check[] = [
    {
      name: 'data-dir',
      status: usable && !worldWritable && st.isDirectory() ? 'ok' : 'fail',
      detail: !st.isDirectory()
        ? `${dir} is not a directory`
        : !usable
          ? `${dir} is not readable and writable by this user`
          : `${dir} is writable${worldWritable ? ' and world-writable' : ''}`,
      fix: worldWritable ? `chmod o-w ${dir}` : `make ${dir} a directory the agent's user can write`,
    },
    await dataFormatCheck(dir),
  ];
  const token = await tokenFileCheck(dir);
  return token ? [...checks, token] : checks;
}
