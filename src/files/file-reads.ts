import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readdir } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AgentError } from '../errors.js';
import { compareEntries, type FileInfo } from './file-info.js';
import { errno } from './fs-errors.js';
import { fdPath, type Located } from './jail.js';
import { openRegular, readBounded } from './safe-open.js';
import { sendRange } from './send-range.js';

/** The reading side of ServerFiles, each on a path the jail has already located. */

/** A regular file opened for a streamed download (ServerFiles.openForDownload). */
export interface Download {
  st: Stats;
  display: string;
  name: string;
  /** Sends the bytes start..end (inclusive) to `out` (send-range.ts), then closes the file either way. */
  send(start: number, end: number, out: Writable): Promise<void>;
  close(): Promise<void>;
}

/** The FileInfo of an entry (ServerFiles resolves owner names and link targets). */
export type InfoOf = (segments: string[], st: Stats) => Promise<FileInfo>;

/** lstat of a located entry; the root is stat'ed through its handle (its fd path is a magic link). */
export function statOf(loc: Located): Promise<Stats> {
  return loc.name ? lstat(loc.at) : loc.dir.stat();
}

export async function listDirectory(
  loc: Located,
  maxEntries: number,
  info: InfoOf,
): Promise<{ path: string; files: FileInfo[]; truncated: boolean }> {
  const handle = loc.name
    ? await open(loc.at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch((err) => {
        if (errno(err) === 'ENOTDIR') throw new AgentError('NOT_A_DIRECTORY', `${loc.display} is not a directory`);
        throw err;
      })
    : loc.dir;
  try {
    const names = await readdir(fdPath(handle.fd));
    const truncated = names.length > maxEntries;
    const files: FileInfo[] = [];
    for (const name of names.slice(0, maxEntries)) {
      const entry = await lstat(fdPath(handle.fd, name)).catch(() => undefined);
      if (entry) files.push(await info([...loc.segments, name], entry));
    }
    files.sort(compareEntries);
    return { path: loc.display, files, truncated };
  } finally {
    if (handle !== loc.dir) await handle.close();
  }
}

/** Opens a regular file for reading (never a FIFO, socket, device or a link swapped in). */
function openFile(loc: Located): Promise<FileHandle> {
  if (!loc.name) throw new AgentError('IS_A_DIRECTORY', `${loc.display} is a directory`);
  return openRegular(loc.at, loc.display);
}

export async function readFileAt(loc: Located, maxBytes: number, what: string) {
  const handle = await openFile(loc);
  try {
    const bytes = await readBounded(handle, maxBytes, loc.display, what);
    return { path: loc.display, bytes, modified: (await handle.stat()).mtime.toISOString() };
  } finally {
    await handle.close();
  }
}

/**
 * Opens a regular file for a streamed download. The caller either sends a byte range (which closes the file
 * when it settles) or closes it. `name` is the file's own name (for Content-Disposition).
 */
export async function openDownload(loc: Located): Promise<Download> {
  const handle = await openFile(loc);
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
}
