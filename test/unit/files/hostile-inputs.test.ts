import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import pino from 'pino';
import tarStream from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { AgentError } from '../../../src/errors.js';
import { EventBus } from '../../../src/events/bus.js';
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES, toSegments } from '../../../src/files/path-rules.js';
import { FileAccess } from '../../../src/servers/file-access.js';
import { makeSandbox } from '../../helpers/sandbox.js';

/** Generators that reach the limits (issue 10): names of 254/255/256 bytes, paths of 4096/4097, DEL, binary. */

const char = fc.oneof(
  fc.constantFrom('a', 'é', '€', '𝄞', '\u007f', '\u0085', '\ufeff', ' ', '\\'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
/** A name of exactly `bytes` UTF-8 bytes built from 1-, 2-, 3- and 4-byte characters. */
const nameOfBytes = (bytes: number) =>
  fc.array(fc.constantFrom('a', 'é', '€', '𝄞'), { minLength: 1, maxLength: bytes }).map((chars) => {
    let out = '';
    for (const ch of chars) if (Buffer.byteLength(out + ch) <= bytes) out += ch;
    while (Buffer.byteLength(out) < bytes) out += 'a';
    return out;
  });

describe('path rules at their limits (property)', () => {
  it('takes names up to 255 bytes and refuses 256, whatever the characters', () => {
    fc.assert(
      fc.property(fc.constantFrom(254, 255, 256), fc.nat(), (bytes, seed) => {
        const name = fc.sample(nameOfBytes(bytes), { seed, numRuns: 1 })[0] as string;
        expect(Buffer.byteLength(name)).toBe(bytes);
        if (bytes <= MAX_SEGMENT_BYTES) expect(toSegments(`/${name}`)).toEqual([name]);
        else expect(() => toSegments(`/${name}`)).toThrow(/longer than 255 bytes/);
      }),
    );
  });

  it('takes paths up to 4096 bytes and refuses 4097', () => {
    for (const total of [4095, 4096, 4097]) {
      const segment = 'a'.repeat(254);
      let input = '';
      while (Buffer.byteLength(input) + 255 <= total) input += `/${segment}`;
      input += `/${'b'.repeat(Math.max(1, total - Buffer.byteLength(input) - 1))}`;
      expect(Buffer.byteLength(input)).toBe(total);
      if (total <= MAX_PATH_BYTES) expect(toSegments(input).length).toBeGreaterThan(10);
      else expect(() => toSegments(input)).toThrow(/longer than 4096 bytes/);
    }
  });

  it('answers every string with segments or a catalogue error, never anything else', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(char, fc.constant('/'), fc.constant('..')), { maxLength: 300 }), (chars) => {
        try {
          for (const s of toSegments(chars.join(''))) {
            // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must never pass
            expect(s).not.toMatch(/[\u0000-\u001f\u007f/]/);
            expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(AgentError);
        }
      }),
    );
  });
});

function zipOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(data, name, { compress: true });
  zip.end();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function tarOf(entries: Record<string, Buffer>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, data] of Object.entries(entries)) pack.entry({ name }, data);
  pack.finalize();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('every archive path on corrupt input (property)', () => {
  const box = makeSandbox({ limitBytes: 8 * 1024 * 1024 });
  afterAll(() => box.cleanup());

  it('rejects with a catalogue error or extracts, and never throws past the action, for any corruption', async () => {
    const entries = {
      'a/readme.txt': Buffer.from('hello '.repeat(200)),
      'b/data.bin': Buffer.alloc(50_000, 7),
      'c.txt': Buffer.from('x'),
    };
    const originals = {
      zip: await zipOf(entries),
      tar: await tarOf(entries),
      tgz: gzipSync(await tarOf(entries)),
    };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('zip', 'tar', 'tgz' as const),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (kind, flips, cut) => {
          const data = Buffer.from(originals[kind]);
          for (const [at, value] of flips) data[at % data.length] = value;
          const bytes = cut === undefined ? data : data.subarray(0, cut % data.length);
          const name = `in${run++}.${kind === 'tgz' ? 'tar.gz' : kind}`;
          writeFileSync(path.join(box.root, name), bytes);
          try {
            await box.archiver.extract(`/${name}`, `/out${run}`);
          } catch (err) {
            expect(err).toBeInstanceOf(AgentError);
            expect((err as AgentError).code).not.toBe('INTERNAL_ERROR');
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('background file jobs per server', () => {
  it('refuses more than files.backgroundPerServer at once with SERVER_BUSY, and frees the slot when one ends', async () => {
    const bus = new EventBus();
    const access = new FileAccess({ bus } as never, { backgroundAfterMs: 10, backgroundPerServer: 2 } as never);
    const server = { id: 's1', log: pino({ level: 'silent' }) } as never;
    const gates: (() => void)[] = [];
    const job = () => new Promise<Record<string, unknown>>((resolve) => gates.push(() => resolve({ ok: true })));
    const completed: unknown[] = [];
    bus.subscribe((e) => {
      if (e.event === 'operation_completed') completed.push(e.data);
    });
    expect(await access.background(server, 'copy_file', job)).toMatchObject({ pending: true });
    expect(await access.background(server, 'copy_file', job)).toMatchObject({ pending: true });
    await expect(access.background(server, 'copy_file', job)).rejects.toMatchObject({ code: 'SERVER_BUSY' });
    // Another server is not affected.
    const other = { id: 's2', log: pino({ level: 'silent' }) } as never;
    expect(await access.background(other, 'copy_file', job)).toMatchObject({ pending: true });
    gates[0]?.();
    await new Promise<void>((resolve) => {
      const stop = bus.subscribe((e) => {
        if (e.event === 'operation_completed') {
          stop();
          resolve();
        }
      });
    });
    expect(await access.background(server, 'copy_file', job)).toMatchObject({ pending: true });
    for (const open of gates) open();
  });
});
