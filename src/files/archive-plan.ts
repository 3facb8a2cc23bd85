import { AgentError } from '../errors.js';
import {
  type ArchiveFormat,
  eachTarEntry,
  eachZipEntry,
  MAX_ARCHIVE_ENTRIES,
  tarKind,
  zipEntryKind,
  zipName,
} from './archive-formats.js';
import type { DenyList } from './deny-list.js';
import { archiveEntrySegments } from './path-rules.js';
import { diskLimit, type Quota } from './quota.js';

/** One entry extract_archive will write, at its root-relative place. */
export interface PlannedEntry {
  segments: string[];
  directory: boolean;
  size: number;
  mode: number;
}

export interface ExtractionPlan {
  planned: PlannedEntry[];
  skipped: number;
  /** Bytes of the planned files, reserved on the quota. */
  total: number;
}

/**
 * Lists what would be written, refusing the archive if it is over the caps; nothing is written. The quota is
 * compared as entries are listed, so a small tar.gz that inflates to gigabytes stops being read once it no
 * longer fits (a tar header's size is exact: the data that follows has that length).
 */
export async function planExtraction(
  fd: number,
  format: ArchiveFormat,
  base: string[],
  sandbox: { quota: Quota; deny: DenyList },
): Promise<ExtractionPlan> {
  const planned: PlannedEntry[] = [];
  let skipped = 0;
  let total = 0;
  const headroom = await sandbox.quota.headroom();
  const take = (name: string, kind: 'file' | 'directory' | 'other', size: number, mode: number) => {
    if (planned.length + skipped >= MAX_ARCHIVE_ENTRIES) {
      throw new AgentError('FILE_TOO_LARGE', `the archive has more than ${MAX_ARCHIVE_ENTRIES} entries`);
    }
    const segments = archiveEntrySegments(name);
    const target = segments ? [...base, ...segments] : undefined;
    if (!target || kind === 'other' || sandbox.deny.deniedBy(target) !== undefined) {
      skipped++;
      return;
    }
    total += kind === 'file' ? size : 0;
    if (total > headroom) throw diskLimit(total, headroom);
    planned.push({ segments: target, directory: kind === 'directory', size, mode });
  };
  if (format === 'zip') {
    await eachZipEntry(fd, async (entry) => {
      take(zipName(entry), zipEntryKind(entry), entry.uncompressedSize, (entry.externalFileAttributes >>> 16) & 0o777);
    });
  } else {
    await eachTarEntry(fd, format === 'tar.gz', async (header) => {
      take(header.name, tarKind(header), header.size ?? 0, (header.mode ?? 0o644) & 0o777);
    });
  }
  await sandbox.quota.reserve(total);
  return { planned, skipped, total };
}
