import type { FileHandle } from 'node:fs/promises';
import { lstat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AgentError } from '../errors.js';
import { type ArchiveFormat, lib, MAX_ARCHIVE_ENTRIES } from './archive-formats.js';
import { finishFile, replaceViaTemp } from './atomic-write.js';
import { fsError } from './fs-errors.js';
import type { Owner } from './owner.js';
import { displayPath, toSegments } from './path-rules.js';
import { openRegular } from './safe-open.js';
import type { ServerFiles } from './server-files.js';
import { type CollectedEntry, collectTree } from './tree-ops.js';

/**
 * create_archive (PROTOCOL.md §4.4): the inputs are collected first (never through a symlink, denied paths left
 * out), then each file is opened through the jail as it is added and read for exactly the size it had then.
 */

/** Every regular file and directory under the given paths, root-relative, never through a symlink. */
async function collect(files: ServerFiles, inputs: unknown[], exclude: string): Promise<CollectedEntry[]> {
  const out: CollectedEntry[] = [];
  const limits = { ...files.walkLimits, maxEntries: MAX_ARCHIVE_ENTRIES };
  for (const input of inputs) {
    const loc = await files.jail.locate(input, { follow: false, field: 'files' });
    try {
      await collectTree(loc.dir.fd, loc.name, loc.real, files.deny, exclude, out, limits);
    } finally {
      await loc.close();
    }
  }
  return out;
}

/** Opens an archive input as a regular file through the jail, at the moment it is added. */
async function openEntry(files: ServerFiles, segments: string[]): Promise<FileHandle> {
  const src = await files.jail.locate(displayPath(segments), { follow: false });
  try {
    return await openRegular(src.at, src.display);
  } finally {
    await src.close();
  }
}

async function writeZip(files: ServerFiles, entries: CollectedEntry[], sink: NodeJS.WritableStream): Promise<void> {
  const yazl = await lib.yazl();
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream, sink);
  done.catch(() => undefined); // observed below; a failure while adding must not leave it unhandled
  try {
    for (const entry of entries) {
      if (entry.directory) zip.addEmptyDirectory(entry.name);
      else {
        const fh = await openEntry(files, entry.segments);
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

async function writeTar(
  files: ServerFiles,
  entries: CollectedEntry[],
  sink: NodeJS.WritableStream,
  gzip: boolean,
): Promise<void> {
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
      const fh = await openEntry(files, entry.segments);
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

export async function createArchive(
  files: ServerFiles,
  owner: Owner | undefined,
  inputs: unknown[],
  archiveInput: unknown,
  format: ArchiveFormat,
): Promise<{ archivePath: string; size: number; entries: number }> {
  const archiveShown = displayPath(toSegments(archiveInput, 'archivePath'));
  const entries = await collect(files, inputs, archiveShown);
  const loc = await files.jail.locateForCreate(archiveShown, 'archivePath', files.mkdirAt);
  try {
    if (await lstat(loc.at).catch(() => undefined)) {
      throw new AgentError('ALREADY_EXISTS', `archivePath: ${loc.display} already exists`);
    }
    const size = await replaceViaTemp(loc, async (out, tmpAt) => {
      const sink = out.createWriteStream();
      if (format === 'zip') await writeZip(files, entries, sink);
      else await writeTar(files, entries, sink, format === 'tar.gz');
      const written = await finishFile(tmpAt, 0o644, owner);
      await files.quota.reserve(written);
      return written;
    });
    files.quota.adjust(size);
    return { archivePath: loc.display, size, entries: entries.length };
  } catch (err) {
    throw fsError(err, loc.display);
  } finally {
    await loc.close();
  }
}
