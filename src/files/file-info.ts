import type { Stats } from 'node:fs';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** FileInfo of PROTOCOL.md §4.4, with both `modified` (panel backend) and `lastModified` (panel UI). */
export interface FileInfo {
  name: string;
  path: string;
  type: 'file' | 'directory';
  size: number;
  modified: string;
  lastModified: string;
  permissions: string;
  owner: string;
  group: string;
  extension?: string;
  symlink?: true;
  broken?: true;
}

/** Octal permissions without a prefix: 3 digits, 4 when setuid, setgid or sticky is set. */
export function permissionsOf(mode: number): string {
  const bits = mode & 0o7777;
  return bits > 0o777 ? bits.toString(8).padStart(4, '0') : bits.toString(8).padStart(3, '0');
}

/** Host user and group names by id, read once from /etc/passwd and /etc/group; numeric ids otherwise. */
export class IdNames {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;

  private static load(file: string): Map<number, string> {
    const map = new Map<number, string>();
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && /^\d+$/.test(id)) map.set(Number(id), name);
      }
    } catch {
      // no such file (minimal containers): numeric ids it is
    }
    return map;
  }

  user(uid: number): string {
    this.users ??= IdNames.load('/etc/passwd');
    return this.users.get(uid) ?? String(uid);
  }

  group(gid: number): string {
    this.groups ??= IdNames.load('/etc/group');
    return this.groups.get(gid) ?? String(gid);
  }
}

/**
 * Builds FileInfo from an lstat (and, for a symlink, the stat of its target when it stays inside the jail):
 * a link takes its target's type; a link that leaves the jail or dangles shows as a broken file.
 */
export function fileInfo(
  displayPath: string,
  st: Stats,
  names: IdNames,
  link?: { target: Stats | undefined },
): FileInfo {
  const name = path.posix.basename(displayPath) || '/';
  const effective = link ? link.target : st;
  const isDir = effective?.isDirectory() ?? false;
  const modified = (effective ?? st).mtime.toISOString();
  const ext = !isDir ? path.posix.extname(name).slice(1) : '';
  return {
    name,
    path: displayPath,
    type: isDir ? 'directory' : 'file',
    size: isDir || !effective ? 0 : effective.size,
    modified,
    lastModified: modified,
    permissions: permissionsOf((effective ?? st).mode),
    owner: names.user(st.uid),
    group: names.group(st.gid),
    ...(ext ? { extension: ext } : {}),
    ...(link ? { symlink: true as const } : {}),
    ...(link && !link.target ? { broken: true as const } : {}),
  };
}

/** Directories first, then by name (PROTOCOL.md §4.4). */
export function compareEntries(a: FileInfo, b: FileInfo): number {
  if (a.type !== b.type) return a.type === 'directory' ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
