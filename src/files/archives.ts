import { constants } from 'node:fs';
import { type FileHandle, lstat, open, rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AgentError } from '../errors.js';
import {
  type ArchiveFormat,
  budgetMeter,
  eachTarEntry,
  eachZipEntry,
  lib,
  MAX_ARCHIVE_ENTRIES,
  openZipEntry,
  sniffFormat,
  tarKind,
  zipEntryKind,
  zipName,
} from './archive-formats.js';
import { fsError } from './fs-errors.js';
import { tempBeside } from './jail.js';
import { archiveEntrySegments, displayPath, toSegments } from './path-rules.js';
import { openRegular } from './safe-open.js';
import { diskLimit, finishFile, type ServerFiles } from './server-files.js';
import { type CollectedEntry, collectTree } from './tree-ops.js';

/**
 * create_archive and extract_archive (PROTOCOL.md §4.4). Extraction lists every entry first and refuses the
 * whole archive (entry cap, disk quota) before writing anything; entries that escape, links, devices and denied
 * paths are skipped and counted. Every write goes through the jail, so a symlink planted by the game during
 * extraction cannot redirect it. Archives are hostile input: every stream gets its error handling in the tick it
 * is created (a corrupt entry must fail the action, never the process), and sizes are enforced on the bytes
 * that flow, never on what a header declares.
 */

interface PlannedEntry {
  segments: string[];
  directory: boolean;
  size: number;
  mode: number;
}

export interface ExtractResult {
  extractPath: string;
  entries: number;
  skipped: number;
}

const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export class Archiver {
  constructor(
    private readonly files: ServerFiles,
    private readonly owner: { uid: number; gid: number } | undefined,
  ) {}

  /**
   * Lists what would be written, refusing the archive if it is over the caps; nothing is written. The quota is
   * compared as entries are listed, so a small tar.gz that inflates to gigabytes stops being read once it no
   * longer fits (a tar header's size is exact: the data that follows has that length).
   */
  private async plan(fd: number, format: ArchiveFormat, base: string[]) {
    const planned: PlannedEntry[] = [];
    let skipped = 0;
    let total = 0;
    const headroom = await this.files.quota.headroom();
    const take = (name: string, kind: 'file' | 'directory' | 'other', size: number, mode: number) => {
      if (planned.length + skipped >= MAX_ARCHIVE_ENTRIES) {
        throw new AgentError('FILE_TOO_LARGE', `the archive has more than ${MAX_ARCHIVE_ENTRIES} entries`);
      }
      const segments = archiveEntrySegments(name);
      const target = segments ? [...base, ...segments] : undefined;
      if (!target || kind === 'other' || this.files.deny.deniedBy(target) !== undefined) {
        skipped++;
        return;
      }
      total += kind === 'file' ? size : 0;
      if (total > headroom) throw diskLimit(total, headroom);
      planned.push({ segments: target, directory: kind === 'directory', size, mode });
    };
    if (format === 'zip') {
      await eachZipEntry(fd, async (entry) => {
        take(
          zipName(entry),
          zipEntryKind(entry),
          entry.uncompressedSize,
          (entry.externalFileAttributes >>> 16) & 0o777,
        );
      });
    } else {
      await eachTarEntry(fd, format === 'tar.gz', async (header) => {
        take(header.name, tarKind(header), header.size ?? 0, (header.mode ?? 0o644) & 0o777);
      });
    }
    await this.files.quota.reserve(total);
    return { planned, skipped, total };
  }

  /**
   * Streams one entry into place: temp file beside the target, then rename (existing files are replaced).
   * `source` is opened only once the target is ready, so no await separates its creation from its pipeline.
   * Returns false when the resolved target is denied (a link planted by the game) and the entry was skipped.
   */
  private async writeEntry(
    entry: PlannedEntry,
    source: () => Promise<Readable> | Readable,
    budget: { left: number },
  ): Promise<boolean> {
    const shown = displayPath(entry.segments);
    let loc: Awaited<ReturnType<ServerFiles['jail']['locateForCreate']>>;
    try {
      loc = await this.files.jail.locateForCreate(shown, 'entry', this.files.mkdirAt);
    } catch (err) {
      if (err instanceof AgentError && err.code === 'PERMISSION_DENIED') return false;
      throw err;
    }
    try {
      const existing = await lstat(loc.at).catch(() => undefined);
      if (existing?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${shown} is a directory in the way`);
      const tmpAt = tempBeside(loc);
      const handle = await open(tmpAt, WRITE_NEW, 0o644);
      try {
        // The stream owns and closes the handle: with autoClose off, pipeline would wait for a 'close' that
        // never comes.
        const out = handle.createWriteStream();
        await pipeline(await source(), budgetMeter(budget), out);
        await this.finishFile(tmpAt, (entry.mode || 0o644) & 0o755);
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
      await rename(tmpAt, loc.at);
      return true;
    } catch (err) {
      // A system call's failure names the entry; anything else (a corrupt stream) is the archive's fault.
      throw (err as NodeJS.ErrnoException).syscall ? fsError(err, shown) : err;
    } finally {
      await loc.close();
    }
  }

  private finishFile(at: string, mode: number): Promise<number> {
    return finishFile(at, mode, this.owner);
  }

  /** The archive to read, opened as a regular file through the jail (never a FIFO or a device). */
  private async openArchive(archiveInput: unknown): Promise<{ handle: FileHandle; display: string; name: string }> {
    const archive = await this.files.jail.locate(archiveInput, { follow: true, field: 'archivePath' });
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

  async extract(archiveInput: unknown, extractInput: unknown): Promise<ExtractResult> {
    const base = toSegments(extractInput ?? '/', 'extractPath');
    const { handle, display, name } = await this.openArchive(archiveInput);
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
      const { planned, skipped, total } = await this.plan(handle.fd, format, base).catch((err) => {
        throw invalid(err);
      });
      let denied = 0;
      try {
        await this.files.ensureDirectory(displayPath(base), 'extractPath');
        for (const dir of planned.filter((p) => p.directory)) {
          await this.files.createDirectory(displayPath(dir.segments)).catch((err) => {
            if (!(err instanceof AgentError) || err.code !== 'PERMISSION_DENIED') throw err;
            denied++;
          });
        }
        const files = new Map(planned.filter((p) => !p.directory).map((p) => [displayPath(p.segments), p]));
        const budget = { left: total };
        const byName = (entryName: string) => {
          const segments = archiveEntrySegments(entryName);
          return segments ? files.get(displayPath([...base, ...segments])) : undefined;
        };
        const write = async (target: PlannedEntry | undefined, source: () => Promise<Readable> | Readable) => {
          if (target && !(await this.writeEntry(target, source, budget))) denied++;
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
        this.files.quota.adjust(total);
      }
      return { extractPath: displayPath(base), entries: planned.length - denied, skipped: skipped + denied };
    } finally {
      await handle.close();
    }
  }

  /** Every regular file and directory under the given paths, root-relative, never through a symlink. */
  private async collect(inputs: unknown[], exclude: string): Promise<CollectedEntry[]> {
    const out: CollectedEntry[] = [];
    const limits = { ...this.files.walkLimits, maxEntries: MAX_ARCHIVE_ENTRIES };
    for (const input of inputs) {
      const loc = await this.files.jail.locate(input, { follow: false, field: 'files' });
      try {
        await collectTree(loc.dir.fd, loc.name, loc.real, this.files.deny, exclude, out, limits);
      } finally {
        await loc.close();
      }
    }
    return out;
  }

  /** Opens an archive input as a regular file through the jail, at the moment it is added. */
  private async openEntry(segments: string[]): Promise<FileHandle> {
    const src = await this.files.jail.locate(displayPath(segments), { follow: false });
    try {
      return await openRegular(src.at, src.display);
    } finally {
      await src.close();
    }
  }

  private async writeZip(entries: CollectedEntry[], sink: NodeJS.WritableStream): Promise<void> {
    const yazl = await lib.yazl();
    const zip = new yazl.ZipFile();
    const done = pipeline(zip.outputStream, sink);
    done.catch(() => undefined); // observed below; a failure while adding must not leave it unhandled
    try {
      for (const entry of entries) {
        if (entry.directory) zip.addEmptyDirectory(entry.name);
        else {
          const fh = await this.openEntry(entry.segments);
          const st = await fh.stat();
          if (st.size === 0) {
            await fh.close();
            zip.addBuffer(Buffer.alloc(0), entry.name);
            continue;
          }
          // Exactly the size stat'ed, even if the game grows the file meanwhile (yazl checks it).
          const stream = fh.createReadStream({ autoClose: true, end: st.size - 1 });
          zip.addReadStream(stream, entry.name, { size: st.size });
        }
      }
    } catch (err) {
      (zip.outputStream as unknown as Readable).destroy(err as Error);
      throw err;
    }
    zip.end();
    await done;
  }

  private async writeTar(entries: CollectedEntry[], sink: NodeJS.WritableStream, gzip: boolean): Promise<void> {
    const tar = await lib.tar();
    const pack = tar.pack();
    const packed = pack as unknown as Readable;
    const done = gzip ? pipeline(packed, createGzip(), sink) : pipeline(packed, sink);
    done.catch(() => undefined); // observed below
    try {
      for (const entry of entries) {
        if (entry.directory) {
          pack.entry({ name: entry.name, type: 'directory' });
          continue;
        }
        const fh = await this.openEntry(entry.segments);
        const st = await fh.stat();
        const header = { name: entry.name, size: st.size, mode: st.mode & 0o777, mtime: st.mtime };
        if (st.size === 0) {
          await fh.close();
          pack.entry(header, Buffer.alloc(0));
          continue;
        }
        // The header declares st.size: read exactly that much even if the game grows the file meanwhile.
        const stream = fh.createReadStream({ autoClose: true, end: st.size - 1 });
        await new Promise<void>((resolve, reject) => {
          const sinkEntry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          pipeline(stream, sinkEntry).catch(reject);
        });
      }
    } catch (err) {
      packed.destroy(err as Error);
      throw err;
    }
    pack.finalize();
    await done;
  }

  async create(
    inputs: unknown[],
    archiveInput: unknown,
    format: ArchiveFormat,
  ): Promise<{ archivePath: string; size: number; entries: number }> {
    const archiveShown = displayPath(toSegments(archiveInput, 'archivePath'));
    const entries = await this.collect(inputs, archiveShown);
    const loc = await this.files.jail.locateForCreate(archiveShown, 'archivePath', this.files.mkdirAt);
    try {
      if (await lstat(loc.at).catch(() => undefined)) {
        throw new AgentError('ALREADY_EXISTS', `archivePath: ${loc.display} already exists`);
      }
      const tmpAt = tempBeside(loc);
      const out = await open(tmpAt, WRITE_NEW, 0o644);
      try {
        const sink = out.createWriteStream();
        if (format === 'zip') await this.writeZip(entries, sink);
        else await this.writeTar(entries, sink, format === 'tar.gz');
        const size = await this.finishFile(tmpAt, 0o644);
        await this.files.quota.reserve(size);
        await rename(tmpAt, loc.at);
        this.files.quota.adjust(size);
        return { archivePath: loc.display, size, entries: entries.length };
      } catch (err) {
        await out.close().catch(() => undefined);
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      throw fsError(err, loc.display);
    } finally {
      await loc.close();
    }
  }
}
