import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMode } from '../../../src/commands/actions/files.js';
import { AgentError } from '../../../src/errors.js';
import { sniffFormat } from '../../../src/files/archive-formats.js';
import { archiveEntrySegments, displayPath, toSegments } from '../../../src/files/path-rules.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as AgentError).code;
  }
}

describe('path rules (PROTOCOL.md §4.4)', () => {
  it('normalises the shapes the panel sends', () => {
    expect(toSegments('/x')).toEqual(['x']);
    expect(toSegments('x')).toEqual(['x']);
    expect(toSegments('//plugins//a.jar')).toEqual(['plugins', 'a.jar']);
    expect(toSegments('/a/./b/../c')).toEqual(['a', 'c']);
    expect(toSegments('')).toEqual([]);
    expect(toSegments('/')).toEqual([]);
    expect(displayPath(toSegments('//plugins/a.jar'))).toBe('/plugins/a.jar');
  });

  it('refuses climbing above the root, control characters and over-long paths', () => {
    expect(code(() => toSegments('../etc/passwd'))).toBe('PATH_OUTSIDE_ROOT');
    expect(code(() => toSegments('/a/../../b'))).toBe('PATH_OUTSIDE_ROOT');
    expect(code(() => toSegments('a\u0000b'))).toBe('INVALID_PATH');
    expect(code(() => toSegments('a\nb'))).toBe('INVALID_PATH');
    expect(code(() => toSegments('x'.repeat(256)))).toBe('INVALID_PATH');
    expect(code(() => toSegments(`${'a/'.repeat(2100)}`))).toBe('INVALID_PATH');
    expect(code(() => toSegments(42))).toBe('INVALID_PATH');
  });

  it('never yields a segment that could leave a directory (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom('..', '.', '', '/', '//', 'a', 'é', '\u0000', '\\', '~', '...', ' '),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const input = parts.join('/');
        let segments: string[];
        try {
          segments = toSegments(input);
        } catch (err) {
          expect(err).toBeInstanceOf(AgentError);
          expect(['INVALID_PATH', 'PATH_OUTSIDE_ROOT']).toContain((err as AgentError).code);
          return;
        }
        for (const s of segments) {
          expect(s).not.toBe('..');
          expect(s).not.toBe('.');
          expect(s).not.toBe('');
          expect(s.includes('/')).toBe(false);
          expect(s.includes('\u0000')).toBe(false);
        }
        // Joined under a root, the path stays under it.
        const joined = `/root/${segments.join('/')}`;
        expect(joined === '/root/' || joined.startsWith('/root/')).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('skips archive entries that escape, are absolute on Windows or empty', () => {
    expect(archiveEntrySegments('../../etc/cron.d/x')).toBeUndefined();
    expect(archiveEntrySegments('C:\\Windows\\x')).toBeUndefined();
    expect(archiveEntrySegments('./')).toBeUndefined();
    expect(archiveEntrySegments('/abs/file')).toEqual(['abs', 'file']);
    expect(archiveEntrySegments('dir\\file.txt')).toEqual(['dir', 'file.txt']);
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (name) => {
        const segments = archiveEntrySegments(name);
        if (segments) for (const s of segments) expect(['..', '.', ''].includes(s)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('helpers', () => {
  it('parses chmod modes and refuses setuid/setgid', () => {
    expect(parseMode('644')).toBe(0o644);
    expect(parseMode(755)).toBe(0o755);
    expect(parseMode('1777')).toBe(0o1777);
    for (const bad of ['4755', '2755', '888', '64', 'rwx', 644.5, null])
      expect(() => parseMode(bad)).toThrow(AgentError);
  });

  it('sniffs archive formats by magic bytes before the extension', () => {
    expect(sniffFormat(Buffer.from([0x50, 0x4b, 0x03, 0x04]), 'x.tar')).toBe('zip');
    expect(sniffFormat(Buffer.from([0x1f, 0x8b, 8]), 'x.zip')).toBe('tar.gz');
    const tarHead = Buffer.alloc(512);
    tarHead.write('ustar', 257, 'latin1');
    expect(sniffFormat(tarHead, 'x.bin')).toBe('tar');
    expect(sniffFormat(Buffer.alloc(10), 'world.tgz')).toBe('tar.gz');
    expect(sniffFormat(Buffer.alloc(10), 'notes.txt')).toBeUndefined();
  });
});
