import type { FileHandle } from 'node:fs/promises';
import { lstat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgentError } from '../errors.js';
import {
  budgetMeter,
  eachTarEntry,
  eachZipEntry,
  openZipEntry,
  sniffFormat,
  tarKind,
  zipEntryKind,
  zipName,
} from './archive-formats.js';
import { type PlannedEntry, planExtraction } from './archive-plan.js';
import { finishFile, replaceViaTemp } from './atomic-write.js';
import { fsError } from './fs-errors.js';
import type { Located } from './jail.js';
import type { Owner } from './owner.js';
import { archiveEntrySegments, displayPath, toSegments } from './path-rules.js';
import { openRegular } from './safe-open.js';
import type { ServerFiles } from './server-files.js';

/**
 * extract_archive (PROTOCOL.md §4.4). Extraction lists every entry first and refuses the whole archive (entry
 * cap, disk quota) before writing anything; entries that escape, links, devices and denied paths are skipped and
 * counted. Every write goes through the jail, so a symlink planted by the game during extraction cannot
 * redirect it.
 */

export interface ExtractResult {
  extractPath: string;
  entries: number;
  skipped: number;
}

/**
 * Streams one entry into place: temp file beside the target, then rename (existing files are replaced).
 * `source` is opened only once the target is ready, so no await separates its creation from its pipeline.
 * Returns false when the resolved target is denied (a link planted by the game) and the entry was skipped.
 */
async function writeEntry(
  files: ServerFiles,
  owner: Owner | undefined,
  entry: PlannedEntry,
  source: () => Promise<Readable> | Readable,
  budget: { left: number },
): Promise<boolean> {
  const shown = displayPath(entry.segments);
  let loc: Located;
  try {
    loc = await files.jail.locateForCreate(shown, 'entry', files.mkdirAt);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'PERMISSION_DENIED') return false;
    throw err;
  }
  try {
    const existing = await lstat(loc.at).catch(() => undefined);
    if (existing?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${shown} is a directory in the way`);
    await replaceViaTemp(loc, async (handle, tmpAt) => {
      // The stream owns and closes the handle: with autoClose off, pipeline would wait for a 'close' that
      // never comes.
      const out = handle.createWriteStream();
      await pipeline(await source(), budgetMeter(budget), out);
      await finishFile(tmpAt, (entry.mode || 0o644) & 0o755, owner);
    });
    return true;
  } catch (err) {
    // A system call's failure names the entry; anything else (a corrupt stream) is the archive's fault.
    throw (err as NodeJS.ErrnoException).syscall ? fsError(err, shown) : err;
  } finally {
    await loc.close();
  }
}

/** The archive to read, opened as a regular file through the jail (never a FIFO or a device). */
async function openArchive(
  files: ServerFiles,
  archiveInput: unknown,
): Promise<{ handle: FileHandle; display: string; name: string }> {
  const archive = await files.jail.locate(archiveInput, { follow: true, field: 'archivePath' });
  try {
    if (!archive.name) throw new AgentError('IS_A_DIRECTORY', 'archivePath: the server root is not an archive');
    const handle = await openRegular(archive.at, archive.display).catch((err) => {
      throw fsError(err, archive.display);
    });
    return { handle, display: archive.display, name: archive.name };
  } finally {
    await archive.close();
  }
}

export async function extractArchive(
  files: ServerFiles,
  owner: Owner | undefined,
  archiveInput: unknown,
  extractInput: unknown,
): Promise<ExtractResult> {
  const base = toSegments(extractInput ?? '/', 'extractPath');
  const { handle, display, name } = await openArchive(files, archiveInput);
  try {
    const head = Buffer.alloc(512);
    await handle.read(head, 0, 512, 0);
    const format = sniffFormat(head, name);
    if (!format) {
      throw new AgentError('INVALID_PAYLOAD', `archivePath: ${display} is not a zip, tar or tar.gz archive`);
    }
    const invalid = (err: unknown) => {
      if (err instanceof AgentError) return err;
      return new AgentError(
        'INVALID_PAYLOAD',
        `archivePath: ${display} is not a valid ${format} archive: ${(err as Error).message}`,
      );
    };
    const { planned, skipped, total } = await planExtraction(handle.fd, format, base, files).catch((err) => {
      throw invalid(err);
    });
    let denied = 0;
    try {
      await files.ensureDirectory(displayPath(base), 'extractPath');
      for (const dir of planned.filter((p) => p.directory)) {
        await files.createDirectory(displayPath(dir.segments)).catch((err) => {
          if (!(err instanceof AgentError) || err.code !== 'PERMISSION_DENIED') throw err;
          denied++;
        });
      }
      const byPath = new Map(planned.filter((p) => !p.directory).map((p) => [displayPath(p.segments), p]));
      const budget = { left: total };
      const byName = (entryName: string) => {
        const segments = archiveEntrySegments(entryName);
        return segments ? byPath.get(displayPath([...base, ...segments])) : undefined;
      };
      const write = async (target: PlannedEntry | undefined, source: () => Promise<Readable> | Readable) => {
        if (target && !(await writeEntry(files, owner, target, source, budget))) denied++;
      };
      if (format === 'zip') {
        await eachZipEntry(handle.fd, (entry, zip) =>
          write(zipEntryKind(entry) === 'file' ? byName(zipName(entry)) : undefined, () => openZipEntry(zip, entry)),
        );
      } else {
        await eachTarEntry(handle.fd, format === 'tar.gz', (header, stream) =>
          write(tarKind(header) === 'file' ? byName(header.name) : undefined, () => stream),
        );
      }
    } catch (err) {
      throw invalid(err);
    } finally {
      // What was reserved is on disk now, less what a failure left unwritten (the next walk corrects it).
      files.quota.adjust(total);
    }
    return { extractPath: displayPath(base), entries: planned.length - denied, skipped: skipped + denied };
  } finally {
    await handle.close();
  }
}
