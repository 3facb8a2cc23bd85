import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type tarStream from 'tar-stream';
import type yauzl from 'yauzl';
import { AgentError } from '../errors.js';
import { fdPath } from './jail.js';

/**
 * Reading zip, tar and tar.gz archives for archives.ts: format detection, entry walks, and the meter that
 * enforces declared sizes while bytes flow. Every stream gets its error listener in the tick it is created.
 */

export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

/**
 * The archive libraries load on first use: most agents rarely touch an archive, and together they are several MB
 * of resident memory on every host (bench/core.mjs measures idle RSS).
 */
export const lib = {
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

export async function openZip(fd: number): Promise<yauzl.ZipFile> {
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
export async function eachZipEntry(
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
export function zipName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer | string;
  if (typeof raw === 'string') return raw;
  return raw.toString(entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1');
}

export function zipEntryKind(entry: yauzl.Entry): 'file' | 'directory' | 'other' {
  const unixMode = (entry.externalFileAttributes >>> 16) & 0o170000;
  if (zipName(entry).endsWith('/')) return 'directory';
  if (unixMode === 0 || unixMode === 0o100000) return 'file';
  if (unixMode === 0o040000) return 'directory';
  return 'other'; // symlink, device, fifo
}

export async function eachTarEntry(
  fd: number,
  gzip: boolean,
  visit: (header: tarStream.Header, stream: Readable) => Promise<void>,
): Promise<void> {
  const tar = await lib.tar();
  const handle = await open(fdPath(fd), constants.O_RDONLY | constants.O_NONBLOCK);
  const source = handle.createReadStream({ start: 0, autoClose: true });
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    // The entry stream can fail (a truncated or corrupt archive) before visit() has piped it anywhere: an
    // 'error' with no listener would kill the process. The pipeline that consumes it still sees the error.
    stream.on('error', () => undefined);
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

/** Opens a zip entry's data; the error listener is attached in the callback, the tick the stream exists. */
export function openZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(err ?? new Error('no entry stream'));
      stream.on('error', () => undefined); // the pipeline below reports it
      resolve(stream);
    }),
  );
}

/** Counts bytes as they pass and fails once more arrive than the archive declared in all. */
export function budgetMeter(budget: { left: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      budget.left -= chunk.length;
      if (budget.left < 0) return done(new AgentError('DISK_LIMIT', 'the archive expands beyond its declared size'));
      done(null, chunk);
    },
  });
}

export function tarKind(header: tarStream.Header): 'file' | 'directory' | 'other' {
  if (header.type === 'file' || header.type === 'contiguous-file') return 'file';
  return header.type === 'directory' ? 'directory' : 'other';
}
