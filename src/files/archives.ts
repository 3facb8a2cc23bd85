import { constants } from 'node:fs';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type tarStream from 'tar-stream';
import type yauzl from 'yauzl';
import { AgentError } from '../errors.js';
import { fdPath, tempBeside } from './jail.js';
import { archiveEntrySegments, displayPath, toSegments } from './path-rules.js';
import { finishFile, fsError, type Quota, type ServerFiles } from './server-files.js';

/**
 * create_archive and extract_archive (PROTOCOL.md §4.4). Extraction lists every entry first and refuses the
 * whole archive (entry cap, disk quota) before writing anything; entries that escape, links and devices are
 * skipped and counted. Every write goes through the jail, so a symlink planted by the game during extraction
 * cannot redirect it.
 */

export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

/**
 * The archive libraries load on first use: most agents rarely touch an archive, and together they are several MB
 * of resident memory on every host (bench/core.mjs measures idle RSS).
 */
const lib = {
  yauzl: async () => (await import('yauzl')).default,
  yazl: async () => (await import('yazl')).default,
  tar: async () => (await import('tar-stream')).default,
};
export const MAX_ARCHIVE_ENTRIES = 100_000;

export function formatFromName(name: string): ArchiveFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.tar')) return 'tar';
  return undefined;
}

/** Magic bytes first (PK\x03\x04, 1f 8b, "ustar" at 257), the extension as a fallback. */
export function sniffFormat(head: Buffer, name: string): ArchiveFormat | undefined {
  if (head.length >= 4 && head.readUInt32BE(0) === 0x504b0304) return 'zip';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return formatFromName(name);
}

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

async function openZip(fd: number): Promise<yauzl.ZipFile> {
  const yauzlLib = await lib.yauzl();
  return new Promise((resolve, reject) =>
    yauzlLib.fromFd(
      fd,
      // decodeStrings off: yauzl would reject the whole archive on one "../" name; we skip such entries instead.
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false },
      (err, zip) => (err || !zip ? reject(err ?? new Error('not a zip file')) : resolve(zip)),
    ),
  );
}

/** Walks a zip's central directory; `visit` returns a promise to wait for before the next entry. */
async function eachZipEntry(
  fd: number,
  visit: (entry: yauzl.Entry, zip: yauzl.ZipFile) => Promise<void>,
): Promise<void> {
  // The caller's FileHandle owns the fd: yauzl's close() would close it a second time.
  const zip = await openZip(fd);
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      visit(entry, zip).then(() => zip.readEntry(), reject);
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
}

/** The entry name: UTF-8 when the archive says so (bit 11), else CP437, approximated by Latin-1. */
function zipName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer | string;
  if (typeof raw === 'string') return raw;
  return raw.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1');
}

function zipEntryKind(entry: yauzl.Entry): 'file' | 'directory' | 'other' {
  const unixMode = (entry.externalFileAttributes >>> 16) & 0o170000;
  if (zipName(entry).endsWith('/')) return 'directory';
  if (unixMode === 0 || unixMode === 0o100000) return 'file';
  if (unixMode === 0o040000) return 'directory';
  return 'other'; // symlink, device, fifo
}

async function eachTarEntry(
  fd: number,
  gzip: boolean,
  visit: (header: tarStream.Header, stream: Readable) => Promise<void>,
): Promise<void> {
  const tar = await lib.tar();
  const handle = await open(fdPath(fd), constants.O_RDONLY);
  const source = handle.createReadStream({ start: 0, autoClose: true });
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    visit(header, stream as unknown as Readable).then(
      () => {
        stream.resume();
        next();
      },
      (err) => next(err),
    );
  });
  const sink = extract as unknown as NodeJS.WritableStream;
  await (gzip ? pipeline(source, createGunzip(), sink) : pipeline(source, sink));
}

export class Archiver {
  constructor(
    private readonly files: ServerFiles,
    private readonly quota: Quota,
    private readonly owner: { uid: number; gid: number } | undefined,
  ) {}

  /** Lists what would be written, refusing the archive if it is over the caps; nothing is written. */
  private async plan(fd: number, format: ArchiveFormat, base: string[]) {
    const planned: PlannedEntry[] = [];
    let skipped = 0;
    let total = 0;
    const take = (name: string, kind: 'file' | 'directory' | 'other', size: number, mode: number) => {
      if (planned.length + skipped >= MAX_ARCHIVE_ENTRIES) {
        throw new AgentError('FILE_TOO_LARGE', `the archive has more than ${MAX_ARCHIVE_ENTRIES} entries`);
      }
      const segments = archiveEntrySegments(name);
      if (!segments || kind === 'other') {
        skipped++;
        return;
      }
      total += kind === 'file' ? size : 0;
      planned.push({ segments: [...base, ...segments], directory: kind === 'directory', size, mode });
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
        const kind =
          header.type === 'file' || header.type === 'contiguous-file'
            ? 'file'
            : header.type === 'directory'
              ? 'directory'
              : 'other';
        take(header.name, kind, header.size ?? 0, (header.mode ?? 0o644) & 0o777);
      });
    }
    await this.quota.reserve(total);
    return { planned, skipped, total };
  }

  /** Streams one entry into place: temp file beside the target, then rename (existing files are replaced). */
  private async writeEntry(entry: PlannedEntry, source: Readable, budget: { left: number }): Promise<void> {
    const shown = displayPath(entry.segments);
    const loc = await this.files.jail.locateForCreate(shown, 'entry', this.files.mkdirAt);
    try {
      const existing = await lstat(loc.at).catch(() => undefined);
      if (existing?.isDirectory()) throw new AgentError('IS_A_DIRECTORY', `${shown} is a directory in the way`);
      const tmpAt = tempBeside(loc);
      const handle = await open(tmpAt, WRITE_NEW, 0o644);
      try {
        // The stream owns and closes the handle: with autoClose off, pipeline would wait for a 'close' that
        // never comes.
        const out = handle.createWriteStream();
        source.on('data', (chunk: Buffer) => {
          budget.left -= chunk.length;
          // A lying header (declared small, inflates large) is caught here, as bytes arrive.
          if (budget.left < 0)
            source.destroy(new AgentError('DISK_LIMIT', 'the archive expands beyond its declared size'));
        });
        await pipeline(source, out);
        await this.finishFile(tmpAt, (entry.mode || 0o644) & 0o755);
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(tmpAt).catch(() => undefined);
        throw err;
      }
      await rename(tmpAt, loc.at);
    } catch (err) {
      throw fsError(err, shown);
    } finally {
      await loc.close();
    }
  }

  private finishFile(at: string, mode: number): Promise<number> {
    return finishFile(at, mode, this.owner);
  }

  async extract(archiveInput: unknown, extractInput: unknown): Promise<ExtractResult> {
    const base = toSegments(extractInput ?? '/', 'extractPath');
    const archive = await this.files.jail.locate(archiveInput, { follow: true, field: 'archivePath' });
    try {
      if (!archive.name) throw new AgentError('IS_A_DIRECTORY', 'archivePath: the server root is not an archive');
      const handle = await open(archive.at, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err) => {
        throw fsError(err, archive.display);
      });
      try {
        const head = Buffer.alloc(512);
        await handle.read(head, 0, 512, 0);
        const format = sniffFormat(head, archive.name);
        if (!format)
          throw new AgentError(
            'INVALID_PAYLOAD',
            `archivePath: ${archive.display} is not a zip, tar or tar.gz archive`,
          );
        const { planned, skipped, total } = await this.plan(handle.fd, format, base).catch((err) => {
          if (err instanceof AgentError) throw err;
          throw new AgentError(
            'INVALID_PAYLOAD',
            `archivePath: ${archive.display} is not a valid ${format} archive: ${(err as Error).message}`,
          );
        });
        await this.files.createDirectory(displayPath(base));
        for (const dir of planned.filter((p) => p.directory))
          await this.files.createDirectory(displayPath(dir.segments));
        const files = new Map(planned.filter((p) => !p.directory).map((p) => [displayPath(p.segments), p]));
        const budget = { left: total };
        const byName = (name: string) => {
          const segments = archiveEntrySegments(name);
          return segments ? files.get(displayPath([...base, ...segments])) : undefined;
        };
        if (format === 'zip') {
          await eachZipEntry(handle.fd, async (entry, zip) => {
            const target = zipEntryKind(entry) === 'file' ? byName(zipName(entry)) : undefined;
            if (!target) return;
            const stream = await new Promise<Readable>((resolve, reject) =>
              zip.openReadStream(entry, (err, s) => (err || !s ? reject(err) : resolve(s))),
            );
            await this.writeEntry(target, stream, budget);
          });
        } else {
          await eachTarEntry(handle.fd, format === 'tar.gz', async (header, stream) => {
            const isFile = header.type === 'file' || header.type === 'contiguous-file';
            const target = isFile ? byName(header.name) : undefined;
            if (target) await this.writeEntry(target, stream, budget);
          });
        }
        this.quota.adjust(total);
        return { extractPath: displayPath(base), entries: planned.length, skipped };
      } finally {
        await handle.close();
      }
    } finally {
      await archive.close();
    }
  }

  /** Every regular file under the given paths, root-relative, never through a symlink. */
  private async collect(
    inputs: unknown[],
    exclude: string,
  ): Promise<{ name: string; segments: string[]; dirs: boolean }[]> {
    const out: { name: string; segments: string[]; dirs: boolean }[] = [];
    const visit = async (segments: string[]): Promise<void> => {
      const shown = displayPath(segments);
      if (shown === exclude) return;
      const info = await this.files.fileInfo(shown);
      if (info.symlink) return;
      if (info.type === 'file') {
        out.push({ name: segments.join('/'), segments, dirs: false });
        return;
      }
      if (segments.length > 0) out.push({ name: `${segments.join('/')}/`, segments, dirs: true });
      const dir = await this.files.jail.openDir(segments, shown);
      let names: string[];
      try {
        names = await readdir(fdPath(dir.fd));
      } finally {
        await dir.close();
      }
      for (const name of names) await visit([...segments, name]);
      if (out.length > MAX_ARCHIVE_ENTRIES)
        throw new AgentError('FILE_TOO_LARGE', `more than ${MAX_ARCHIVE_ENTRIES} entries`);
    };
    for (const input of inputs) await visit(toSegments(input, 'files'));
    return out;
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
        const openEntry = async (segments: string[]) => {
          const src = await this.files.jail.locate(displayPath(segments), { follow: false });
          try {
            return await open(src.at, constants.O_RDONLY | constants.O_NOFOLLOW);
          } finally {
            await src.close();
          }
        };
        if (format === 'zip') {
          const yazl = await lib.yazl();
          const zip = new yazl.ZipFile();
          const done = pipeline(zip.outputStream, sink);
          for (const entry of entries) {
            if (entry.dirs) zip.addEmptyDirectory(entry.name);
            else {
              const fh = await openEntry(entry.segments);
              zip.addReadStream(fh.createReadStream({ autoClose: true }), entry.name);
            }
          }
          zip.end();
          await done;
        } else {
          const tar = await lib.tar();
          const pack = tar.pack();
          const packed = pack as unknown as Readable;
          const done = format === 'tar.gz' ? pipeline(packed, createGzip(), sink) : pipeline(packed, sink);
          for (const entry of entries) {
            if (entry.dirs) {
              pack.entry({ name: entry.name, type: 'directory' });
              continue;
            }
            const fh = await openEntry(entry.segments);
            const st = await fh.stat();
            await new Promise<void>((resolve, reject) => {
              const sinkEntry = pack.entry(
                { name: entry.name, size: st.size, mode: st.mode & 0o777, mtime: st.mtime },
                (err) => (err ? reject(err) : resolve()),
              );
              pipeline(fh.createReadStream({ autoClose: true }), sinkEntry).catch(reject);
            });
          }
          pack.finalize();
          await done;
        }
        const size = await this.finishFile(tmpAt, 0o644);
        await this.quota.reserve(size);
        await rename(tmpAt, loc.at);
        this.quota.adjust(size);
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
