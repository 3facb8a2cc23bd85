import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clampLines, normalizeConsoleCommand } from '../../../src/commands/actions/console.js';
import { AgentError } from '../../../src/errors.js';
import { LineSplitter } from '../../../src/servers/line-splitter.js';
import { RingBuffer } from '../../../src/servers/ring-buffer.js';

describe('LineSplitter', () => {
  it('splits LF, CRLF and bare CR, keeps blank lines, and holds a partial line', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb\r\n\nc\rd')).toEqual(['a', 'b', '', 'c']);
    expect(s.push('e\n')).toEqual(['de']);
    expect(s.flush()).toEqual([]);
  });

  it('treats a CRLF split across chunks as one line end', () => {
    const s = new LineSplitter();
    expect(s.push('a\r')).toEqual(['a']);
    expect(s.push('\nb\n')).toEqual(['b']);
  });

  it('decodes multi-byte characters split across chunks', () => {
    const s = new LineSplitter();
    const bytes = Buffer.from('héllo ✓\n');
    expect([...s.push(bytes.subarray(0, 2)), ...s.push(bytes.subarray(2))]).toEqual(['héllo ✓']);
  });

  it('splits lines longer than the maximum', () => {
    const s = new LineSplitter(10);
    expect(s.push('x'.repeat(25))).toEqual(['x'.repeat(10), 'x'.repeat(10)]);
    expect(s.flush()).toEqual(['x'.repeat(5)]);
  });

  it('gives the same lines however the stream is chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'é', '\n', '\r', '\r\n', ' '), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        (parts, cuts) => {
          const bytes = Buffer.from(parts.join(''));
          const whole = new LineSplitter();
          const expected = [...whole.push(bytes), ...whole.flush()];
          const chunked = new LineSplitter();
          const got: string[] = [];
          let at = 0;
          let i = 0;
          while (at < bytes.length) {
            const size = cuts[i++ % cuts.length] as number;
            got.push(...chunked.push(bytes.subarray(at, at + size)));
            at += size;
          }
          got.push(...chunked.flush());
          expect(got).toEqual(expected);
          for (const line of got) expect(line).not.toMatch(/[\r\n]/);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('RingBuffer', () => {
  it('keeps the newest items up to its capacity, oldest first', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.size).toBe(3);
    expect(r.last(10)).toEqual([3, 4, 5]);
    expect(r.last(2)).toEqual([4, 5]);
    r.resize(2);
    expect(r.last(10)).toEqual([4, 5]);
    r.clear();
    expect(r.last(10)).toEqual([]);
  });

  it('matches a plain array model (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer(), { maxLength: 100 }),
        fc.nat(30),
        (cap, items, n) => {
          const r = new RingBuffer<number>(cap);
          for (const item of items) r.push(item);
          const model = items.slice(-cap);
          expect(r.size).toBe(model.length);
          expect(r.last(n)).toEqual(n === 0 ? [] : model.slice(-n));
        },
      ),
    );
  });
});

describe('ServerConsole history', () => {
  it('is bounded by characters as well as lines', async () => {
    const { ServerConsole } = await import('../../../src/servers/console.js');
    const { EventBus } = await import('../../../src/events/bus.js');
    const c = new ServerConsole({ serverId: 's', bus: new EventBus(), historyLines: 1000, historyBytes: 1000 });
    for (let i = 0; i < 50; i++) c.append('output', [`${i}`.padEnd(100, 'x')]);
    expect(c.size).toBe(10);
    expect(c.lines(1)[0]?.startsWith('49')).toBe(true);
    c.close();
  });
});

describe('console input rules', () => {
  it('clamps lines to 1…capacity and defaults non-numbers to 100', () => {
    expect(clampLines(undefined, 10_000)).toBe(100);
    expect(clampLines('NaN', 10_000)).toBe(100);
    expect(clampLines(Number.NaN, 10_000)).toBe(100);
    expect(clampLines(-5, 10_000)).toBe(1);
    expect(clampLines(1e12, 10_000)).toBe(10_000);
    expect(clampLines('50', 10_000)).toBe(50);
    expect(clampLines(2.7, 10_000)).toBe(2);
  });

  it('strips one trailing newline and refuses any other line break', () => {
    expect(normalizeConsoleCommand('say hi\n')).toBe('say hi');
    expect(normalizeConsoleCommand('say hi\r\n')).toBe('say hi');
    for (const bad of ['a\nb', 'a\n\n', '\r', '']) {
      expect(() => normalizeConsoleCommand(bad)).toThrow(AgentError);
    }
  });
});
