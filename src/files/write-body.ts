import { writev } from 'node:fs';
import type { Readable } from 'node:stream';
import { AgentError } from '../errors.js';

/**
 * Queued bytes above which the body is paused until the disk catches up. 1 MiB (16 socket reads per writev):
 * batches that stay in the CPU cache while they are copied into the page cache. Measured in a bare node:http
 * server with the agent's V8 flags, curl, 256 MiB, interleaved rounds on a loaded machine: 4 MiB 310-860 ms of CPU
 * per upload, 1 MiB 410-460 ms, 512 KiB the same, 128 KiB worse again (510 ms: a writev per two reads).
 */
const HIGH_WATER = 1024 * 1024;

/**
 * Frees a written chunk's memory now instead of at the next garbage collection, when the chunk is the only view
 * of its ArrayBuffer. node:http copies every body chunk out of its socket buffer into a fresh 64 KiB allocation
 * (http_parser on_body, Buffer::Copy); left to the GC, 256 MiB of them piled up between collections and glibc
 * returned the memory to the kernel, so the next chunks landed on fresh pages: 6,000-18,000 page faults per
 * 256 MiB upload in the agent (its heap makes collections rarer than in a bare script) and major GCs driven by
 * the external memory. Detached at once, malloc hands the same few blocks back: 0-2 faults per upload and about
 * 20 % less CPU (bench/files.mjs). ArrayBuffer.prototype.transfer(0) detaches; a buffer that cannot be detached
 * is left to the GC, which frees it as before.
 */
function release(chunk: Buffer): void {
  if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== chunk.length) return;
  try {
    // ES2024 (Node 21+), past the ES2023 lib the project compiles against.
    (chunk.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  } catch {
    // Not detachable (never the case for node:http body chunks): the GC frees it, as it did before.
  }
}

/**
 * Streams a request body into an open file descriptor and resolves with the byte count. Chunks queue while one
 * writev is in flight and go to the disk together; the body pauses above 1 MiB queued. Leaner than pipeline()
 * into an fs.WriteStream, which costs a stream hop, a callback and a tick per 64 KiB socket read. Rejects with
 * FILE_TOO_LARGE past `cap` bytes, and when the body errors or closes before its end (a client that went away);
 * the caller owns and closes the descriptor. With `ownsChunks` (the body is an IncomingMessage nobody else reads)
 * each chunk's memory is freed once it is on disk (see `release`): the caller's chunks are then empty.
 */
export function writeBody(
  body: Readable,
  fd: number,
  cap: number,
  overCap: () => Error = () => new AgentError('FILE_TOO_LARGE', `the upload is larger than ${cap} bytes`),
  options: { ownsChunks?: boolean } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    let queue: Buffer[] = [];
    let queued = 0;
    let received = 0;
    let writing = false;
    let ended = false;
    let settled = false;

    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      queue = [];
      body.destroy();
      reject(err);
    };
    const flush = () => {
      if (writing || settled) return;
      if (queue.length === 0) {
        if (ended) {
          settled = true;
          resolve(received);
        }
        return;
      }
      const batch = queue;
      queue = [];
      queued = 0;
      writing = true;
      // libuv completes short writes itself (uv__fs_write_all), so the callback means all of `batch` or an error.
      writev(fd, batch, (err) => {
        writing = false;
        if (err) return fail(err);
        if (options.ownsChunks) for (const chunk of batch) release(chunk);
        if (body.isPaused() && !ended) body.resume();
        flush();
      });
    };

    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > cap) return fail(overCap());
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= HIGH_WATER) body.pause();
      flush();
    });
    body.once('end', () => {
      ended = true;
      flush();
    });
    body.once('error', fail);
    body.once('close', () => {
      if (!ended) fail(new AgentError('BAD_REQUEST', 'the upload ended before its last byte'));
    });
  });
}
