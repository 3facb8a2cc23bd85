import { writev } from 'node:fs';
import type { Readable } from 'node:stream';
import { AgentError } from '../errors.js';

/** Queued bytes above which the body is paused until the disk catches up. */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * Streams a request body into an open file descriptor and resolves with the byte count. Chunks queue while one
 * writev is in flight and go to the disk together; the body pauses above 4 MiB queued. Leaner than pipeline()
 * into an fs.WriteStream, which costs a stream hop, a callback and a tick per 64 KiB socket read: measured about
 * 10 % faster uploads (bench/files.mjs). Rejects with FILE_TOO_LARGE past `cap` bytes, and when the body errors or
 * closes before its end (a client that went away); the caller owns and closes the descriptor.
 */
export function writeBody(
  body: Readable,
  fd: number,
  cap: number,
  overCap: () => Error = () => new AgentError('FILE_TOO_LARGE', `the upload is larger than ${cap} bytes`),
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
