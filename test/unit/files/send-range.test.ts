import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { sendRange } from '../../../src/files/send-range.js';

const MIB = 1024 * 1024;
const dir = mkdtempSync(path.join(tmpdir(), 'send-range-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileOf(data: Buffer): string {
  const file = path.join(dir, `f-${randomBytes(4).toString('hex')}`);
  writeFileSync(file, data);
  return file;
}

/**
 * A slow socket: takes each chunk a tick later and copies it only then, so a buffer reused before its write
 * callback would show up as wrong bytes.
 */
function slowSink(highWaterMark = 64 * 1024) {
  const parts: Buffer[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, done) {
      setImmediate(() => {
        parts.push(Buffer.from(chunk));
        done();
      });
    },
  });
  return { sink, bytes: () => Buffer.concat(parts) };
}

describe('sendRange', () => {
  it('sends exactly the bytes of the range, across buffer boundaries, through a slow socket', async () => {
    const data = randomBytes(3 * MIB + 12_345);
    const file = fileOf(data);
    const size = data.length;
    await fc.assert(
      fc.asyncProperty(fc.nat(size - 1), fc.nat(size - 1), async (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const fd = openSync(file, 'r');
        try {
          const { sink, bytes } = slowSink();
          await sendRange(fd, start, end, sink);
          expect(bytes().equals(data.subarray(start, end + 1))).toBe(true);
        } finally {
          closeSync(fd);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('rejects when the client goes away, and settles only once no read is in flight', async () => {
    const fd = openSync(fileOf(randomBytes(8 * MIB)), 'r');
    const { sink } = slowSink();
    let written = 0;
    const origWrite = sink.write.bind(sink);
    sink.write = ((chunk: Buffer, cb?: (err?: Error | null) => void) => {
      written += chunk.length;
      if (written > MIB) setImmediate(() => sink.destroy());
      return origWrite(chunk, cb);
    }) as typeof sink.write;
    await expect(sendRange(fd, 0, 8 * MIB - 1, sink)).rejects.toThrow(/went away/);
    // Closing right after the rejection is what the sandbox does: no read may still hold the descriptor.
    closeSync(fd);
    expect(written).toBeLessThan(8 * MIB);
  });

  it('cuts the response when the file is shorter than the range it promised', async () => {
    const fd = openSync(fileOf(randomBytes(100)), 'r');
    try {
      const { sink } = slowSink();
      await expect(sendRange(fd, 0, 199, sink)).rejects.toThrow(/ended before the range/);
      expect(sink.destroyed).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
