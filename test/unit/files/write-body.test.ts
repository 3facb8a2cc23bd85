import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBody } from '../../../src/files/write-body.js';

const dir = mkdtempSync(path.join(tmpdir(), 'write-body-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeTo(body: Readable, cap: number) {
  const file = path.join(dir, `f-${randomBytes(4).toString('hex')}`);
  const fd = openSync(file, 'w');
  try {
    const result: { n?: number; err?: Error & { code?: string } } = await writeBody(body, fd, cap).then(
      (n) => ({ n }),
      (err: Error & { code?: string }) => ({ err }),
    );
    return { ...result, content: readFileSync(file) };
  } finally {
    closeSync(fd);
  }
}

describe('writeBody', () => {
  it('writes every chunk in order, whatever their sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 300_000 }), { maxLength: 40 }), async (sizes) => {
        const chunks = sizes.map((n) => randomBytes(n));
        const { n, content } = await writeTo(Readable.from(chunks), Number.MAX_SAFE_INTEGER);
        expect(n).toBe(content.length);
        expect(content.equals(Buffer.concat(chunks))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('pauses a fast body above the high-water mark and still writes it all (20 MiB)', async () => {
    const chunks = Array.from({ length: 320 }, () => randomBytes(64 * 1024));
    const body = Readable.from(chunks);
    let paused = 0;
    body.on('pause', () => paused++);
    const { n, content } = await writeTo(body, Number.MAX_SAFE_INTEGER);
    expect(n).toBe(20 * 1024 * 1024);
    expect(content.equals(Buffer.concat(chunks))).toBe(true);
    expect(paused).toBeGreaterThan(0);
  });

  it('refuses a body past the cap with FILE_TOO_LARGE', async () => {
    const { err } = await writeTo(Readable.from([randomBytes(1000), randomBytes(1000)]), 1500);
    expect(err).toMatchObject({ code: 'FILE_TOO_LARGE' });
  });

  it('fails when the body closes before its end, or errors', async () => {
    const cut = new PassThrough();
    const pending = writeTo(cut, 1e9);
    cut.write(randomBytes(10));
    setTimeout(() => cut.destroy(), 10);
    expect((await pending).err).toMatchObject({ code: 'BAD_REQUEST' });

    const broken = new PassThrough();
    const failing = writeTo(broken, 1e9);
    setTimeout(() => broken.destroy(new Error('ECONNRESET')), 10);
    expect((await failing).err?.message).toBe('ECONNRESET');
  });
});
