import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBody } from '../../../src/files/write-body.js';

const dir = mkdtempSync(path.join(tmpdir(), 'write-body-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeTo(body: Readable, cap: number, options: { ownsChunks?: boolean } = {}) {
  const file = path.join(dir, `f-${randomBytes(4).toString('hex')}`);
  const fd = openSync(file, 'w');
  try {
    const result: { n?: number; err?: Error & { code?: string } } = await writeBody(
      body,
      fd,
      cap,
      undefined,
      options,
    ).then(
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

  it('with ownsChunks, frees each chunk once it is on disk; without, leaves the caller its chunks', async () => {
    const chunks = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
    const expected = Buffer.concat(chunks);
    const owned = await writeTo(Readable.from(chunks), Number.MAX_SAFE_INTEGER, { ownsChunks: true });
    expect(owned.content.equals(expected)).toBe(true);
    expect(chunks.every((c) => c.length === 0)).toBe(true);

    const kept = Array.from({ length: 8 }, () => randomBytes(64 * 1024));
    const copy = Buffer.concat(kept);
    await writeTo(Readable.from(kept), Number.MAX_SAFE_INTEGER);
    expect(Buffer.concat(kept).equals(copy)).toBe(true);
  });

  it('node:http hands each body chunk over in an ArrayBuffer of its own, the case ownsChunks frees', async () => {
    // What `release` relies on: were node:http ever to pass views of a shared socket buffer, this fails and the
    // release must go (it would then skip them anyway: a view that is not its whole buffer is left to the GC).
    const seen: { whole: boolean; distinct: boolean }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const server = http.createServer((req, res) => {
      req.on('data', (chunk: Buffer) => {
        seen.push({
          whole: chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length,
          distinct: !buffers.has(chunk.buffer),
        });
        buffers.add(chunk.buffer);
      });
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/`, { method: 'PUT', body: randomBytes(4 * 1024 * 1024) });
    } finally {
      server.close();
    }
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((s) => s.whole && s.distinct)).toBe(true);
  });
});
