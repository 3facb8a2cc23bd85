import type { Stats } from 'node:fs';
import { type FileHandle, lstat, readdir } from 'node:fs/promises';
import { compareEntries, type FileInfo } from './file-info.js';
import { fdPath, type Jail, type Located } from './jail.js';
import { displayPath } from './path-rules.js';

export interface SearchLimits {
  searchMaxResults: number;
  searchMaxDepth: number;
  searchTimeMs: number;
}

/**
 * search_files: case-insensitive substring on names, breadth-first from a located directory, never through a
 * symlinked directory (each level is opened through the jail with O_NOFOLLOW). Bounded by results, depth and
 * time; `truncated` says when a bound ended it. Denied paths are still listed by name, as list_files does: the
 * denylist guards contents, and every action on a result is checked again.
 */
export async function searchFiles(
  jail: Jail,
  loc: Located,
  query: string,
  fileType: 'file' | 'directory' | 'all',
  limits: SearchLimits,
  info: (segments: string[], st: Stats) => Promise<FileInfo>,
): Promise<{ path: string; files: FileInfo[]; total: number; truncated: boolean }> {
  const deadline = Date.now() + limits.searchTimeMs;
  const needle = query.toLowerCase();
  const files: FileInfo[] = [];
  let truncated = false;
  const queue: { segments: string[]; depth: number }[] = [{ segments: loc.real, depth: 0 }];
  while (queue.length > 0 && !truncated) {
    const { segments, depth } = queue.shift() as { segments: string[]; depth: number };
    if (Date.now() > deadline) {
      truncated = true;
      break;
    }
    let names: string[];
    let handle: FileHandle | undefined;
    try {
      handle = await jail.openDir(segments, displayPath(segments));
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
          if (files.length >= limits.searchMaxResults) {
            truncated = true;
            break;
          }
          files.push(await info(childSegments, st));
        }
        if (st.isDirectory() && depth + 1 < limits.searchMaxDepth) {
          queue.push({ segments: childSegments, depth: depth + 1 });
        }
      }
    } finally {
      await handle.close();
    }
  }
  files.sort(compareEntries);
  return { path: loc.display, files, total: files.length, truncated };
}
