import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigFiles } from '../../../../src/servers/egg/config-files.js';
import { EggError } from '../../../../src/servers/egg/parse.js';

const at = ['configFiles'];

function error(input: unknown): EggError | undefined {
  try {
    parseConfigFiles(input, at);
    return undefined;
  } catch (err) {
    if (err instanceof EggError) return err;
    throw err;
  }
}

describe('config files (egg config.files / payload configFiles)', () => {
  it('takes the egg map and the spec array, normalising paths', () => {
    const fromMap = parseConfigFiles({ '/cfg/./server.ini': { parser: 'ini', find: { 'a.b': 1 } } }, at);
    expect(fromMap).toEqual([{ path: 'cfg/server.ini', parser: 'ini', find: { 'a.b': 1 } }]);
    expect(parseConfigFiles(fromMap, at)).toEqual(fromMap);
    expect(parseConfigFiles([{ path: 'motd.txt', parser: 'file', find: { '': 'hi', '../x': 'y' } }], at)).toEqual([
      { path: 'motd.txt', parser: 'file', find: { '': 'hi', '../x': 'y' } },
    ]);
    expect(parseConfigFiles({ 'a.json': { parser: 'json' } }, at)).toEqual([
      { path: 'a.json', parser: 'json', find: {} },
    ]);
  });

  it('refuses paths out of the server directory, control characters, unknown parsers and bad find keys', () => {
    expect(error({ '../../etc/passwd': { parser: 'file', find: {} } })?.path).toEqual([
      'configFiles',
      '../../etc/passwd',
    ]);
    expect(error({ '../../etc/passwd': { parser: 'file', find: {} } })?.message).toMatch(/climbs above/);
    expect(error({ 'a/../../b': { parser: 'file', find: {} } })).toBeDefined();
    expect(error({ 'a\nb': { parser: 'file', find: {} } })?.message).toMatch(/control character/);
    expect(error({ '/': { parser: 'file', find: {} } })?.message).toMatch(/server directory itself/);
    expect(error({ a: { parser: 'exe', find: {} } })?.path).toEqual(['configFiles', 'a', 'parser']);
    expect(error({ a: { parser: 'json', find: { 'x..y': 1 } } })?.path).toEqual(['configFiles', 'a', 'find', 'x..y']);
    expect(error({ a: { parser: 'yaml', find: { '.x': 1 } } })).toBeDefined();
    expect(error({ a: { parser: 'yaml', find: 'x' } })).toBeDefined();
    expect(error([{ parser: 'ini', find: {} }])?.path).toEqual(['configFiles', 0]);
    expect(error({ 'a/b': { parser: 'ini' }, 'a/./b': { parser: 'ini' } })?.message).toMatch(/twice/);
    expect(error('server.properties')).toBeDefined();
  });

  it('never throws anything but EggError, and what it accepts stays inside the root', () => {
    const pathArb = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.array(fc.constantFrom('..', '.', 'a', '', 'b.cfg', '\u0000'), { maxLength: 6 }).map((s) => s.join('/')),
    );
    fc.assert(
      fc.property(fc.dictionary(pathArb, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), (input) => {
        const err = error(input);
        if (err) return;
        for (const file of parseConfigFiles(input, at)) {
          expect(file.path.split('/')).not.toContain('..');
          expect(file.path).not.toBe('');
        }
      }),
      { numRuns: 200 },
    );
  });
});
