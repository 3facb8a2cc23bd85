import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DenyList } from '../../../src/files/deny-list.js';

const denied = (list: DenyList, path: string) => list.deniedBy(path.split('/').filter(Boolean)) !== undefined;

describe('DenyList', () => {
  it('covers a denied directory itself and everything below it', () => {
    const list = new DenyList(['secret/**']);
    expect(denied(list, 'secret')).toBe(true);
    expect(denied(list, 'secret/license.key')).toBe(true);
    expect(denied(list, 'secret/a/b/c')).toBe(true);
    expect(denied(list, 'secrets')).toBe(false);
    expect(denied(list, 'other/secret')).toBe(false);
  });

  it('matches a slashless pattern at any depth and anchors one with a slash', () => {
    const list = new DenyList(['*.key', '/config/server.yml']);
    expect(denied(list, 'license.key')).toBe(true);
    expect(denied(list, 'plugins/x/license.key')).toBe(true);
    expect(denied(list, 'config/server.yml')).toBe(true);
    expect(denied(list, 'backup/config/server.yml')).toBe(false);
  });

  it('protects the contents of a directory matched by name', () => {
    const list = new DenyList(['private']);
    expect(denied(list, 'private/a.txt')).toBe(true);
    expect(denied(list, 'x/private/deep/a.txt')).toBe(true);
  });

  it('understands braces, classes and ** in the middle (they never matched before)', () => {
    const list = new DenyList(['{server,proxy}.properties', 'log[0-9].txt', 'world/**/level.dat']);
    expect(denied(list, 'server.properties')).toBe(true);
    expect(denied(list, 'proxy.properties')).toBe(true);
    expect(denied(list, 'other.properties')).toBe(false);
    expect(denied(list, 'log7.txt')).toBe(true);
    expect(denied(list, 'logx.txt')).toBe(false);
    expect(denied(list, 'world/level.dat')).toBe(true);
    expect(denied(list, 'world/a/b/level.dat')).toBe(true);
  });

  it('lets a later !pattern re-allow a name, last match wins', () => {
    const list = new DenyList(['*.jar', '!server.jar']);
    expect(denied(list, 'plugins/x.jar')).toBe(true);
    expect(denied(list, 'server.jar')).toBe(false);
    expect(new DenyList(['!server.jar', '*.jar']).deniedBy(['server.jar'])).toBe('*.jar');
  });

  it('lets wildcards match dot files, so a leading dot is no way around a pattern', () => {
    expect(denied(new DenyList(['*.key']), '.hidden.key')).toBe(true);
    expect(denied(new DenyList(['secret/*']), 'secret/.env')).toBe(true);
    expect(denied(new DenyList(['**/*.so']), '.cache/lib/x.so')).toBe(true);
  });

  it('reads patterns with stray spaces and slashes as the operator meant them', () => {
    expect(denied(new DenyList(['  *.key  ']), 'a.key')).toBe(true);
    expect(denied(new DenyList(['//config/server.yml']), 'config/server.yml')).toBe(true);
    expect(denied(new DenyList(['private//']), 'private/a.txt')).toBe(true);
    expect(new DenyList(['/', '//', '   ']).empty).toBe(true);
    expect(new DenyList(['x']).empty).toBe(false);
  });

  it('matches dot files and ignores blank and comment lines', () => {
    const list = new DenyList(['', '  ', '# comment', '.env']);
    expect(denied(list, '.env')).toBe(true);
    expect(denied(list, 'a/.env')).toBe(true);
    expect(new DenyList(['', '# x']).empty).toBe(true);
  });

  it('never denies the root and denies every path below a denied prefix (property)', () => {
    const name = fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((n) => n !== '.' && n !== '..');
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 4 }), fc.array(name, { maxLength: 4 }), (dir, rest) => {
        const list = new DenyList([`/${dir.join('/')}/**`]);
        expect(list.deniedBy([])).toBeUndefined();
        expect(list.deniedBy([...dir, ...rest])).toBeDefined();
      }),
    );
  });
});
