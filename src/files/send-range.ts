import { read } from 'node:fs';
import type { Writable } from 'node:stream';

/** Bytes per read, and reads in flight: one buffer is read into while the other goes out on the socket. */
const CHUNK = 1024 * 1024;
const SLOTS = 2;

/**
 * Sends the bytes start..end (inclusive) of an open file to `out` (an HTTP response) through two reused 1 MiB
 * buffers, and resolves once the last byte is handed to the socket. A buffer goes back to the reader only when
 * the socket has taken it (the write callback), so no chunk is ever overwritten while queued, and the response's
 * back-pressure holds at two buffers. Node has no sendfile; what it can do is not allocate: fs.createReadStream
 * allocates a fresh 1 MiB buffer per read, which the GC frees late, so every read landed on fresh pages
 * (5,000-18,000 page faults per 256 MiB in the agent, 400 here) and cost about a third more CPU
 * (bench/files.mjs). Rejects when a read fails or `out` closes first (a client that went away); the caller owns
 * the descriptor and closes it either way.
 */
export function sendRange(fd: number, start: number, end: number, out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const free = Array.from({ length: Math.min(SLOTS, Math.ceil((end - start + 1) / CHUNK)) }, () =>
      Buffer.allocUnsafeSlow(CHUNK),
    );
    let position = start;
    let inFlight = 0;
    let reading = false;
    let settled = false;
    let ending = false;

    // Settles only once no read is in flight: the caller closes the descriptor next, and a read still running
    // in the thread pool would then hit a closed (or reused) descriptor number.
    let failure: Error | undefined;
    const settle = (err?: Error) => {
      failure ??= err;
      if (settled || reading) return;
      settled = true;
      out.off('close', onClose);
      if (failure) reject(failure);
      else resolve();
    };
    // After 'finish' (the end callback has settled) this does nothing; before it, the client went away.
    const onClose = () => settle(new Error('the client went away before the last byte'));
    const pump = () => {
      if (settled || failure || reading) return;
      if (position > end) {
        if (inFlight === 0 && !ending) {
          ending = true;
          out.end(() => settle());
        }
        return;
      }
      const buffer = free.pop();
      if (!buffer) return;
      reading = true;
      read(fd, buffer, 0, Math.min(CHUNK, end - position + 1), position, (err, n) => {
        reading = false;
        if (failure) return settle();
        if (err || n === 0) {
          // A file truncated under us (n === 0) cannot keep the Content-Length promise: cut the response. Destroyed
          // without the error, which would be an 'error' event nobody may be listening to; the caller gets it.
          out.destroy();
          return settle(err ?? new Error('the file ended before the range did'));
        }
        position += n;
        inFlight++;
        out.write(n === buffer.length ? buffer : buffer.subarray(0, n), (writeErr) => {
          inFlight--;
          if (writeErr) return settle(writeErr);
          free.push(buffer);
          pump();
        });
        pump();
      });
    };
    out.on('close', onClose);
    pump();
  });
}
