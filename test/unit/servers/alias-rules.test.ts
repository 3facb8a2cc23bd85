import { describe, expect, it } from 'vitest';
import { checkAlias, MAX_ALIASES } from '../../../src/servers/alias-rules.js';

const known = (servers: string[], table: Record<string, string> = {}, size = Object.keys(table).length) => ({
  isServer: (id: string) => servers.includes(id),
  target: (alias: string) => table[alias],
  size,
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('alias rules (PROTOCOL.md §5)', () => {
  it('adds a new alias of a known server', () => {
    expect(checkAlias('cm123', 'uuid-1', known(['uuid-1']))).toBe('add');
  });

  it('changes nothing for the server’s own id or an alias that already names it', () => {
    expect(checkAlias('uuid-1', 'uuid-1', known(['uuid-1']))).toBe('unchanged');
    expect(checkAlias('cm123', 'uuid-1', known(['uuid-1'], { cm123: 'uuid-1' }))).toBe('unchanged');
  });

  it('says what is wrong', () => {
    expect(() => checkAlias('cm1', 'nope', known(['uuid-1']))).toThrow('server nope not found');
    expect(() => checkAlias('uuid-2', 'uuid-1', known(['uuid-1', 'uuid-2']))).toThrow('canonical id of another server');
    expect(() => checkAlias('cm1', 'uuid-1', known(['uuid-1', 'uuid-2'], { cm1: 'uuid-2' }))).toThrow(
      'already names server uuid-2',
    );
    expect(() => checkAlias('cm9', 'uuid-1', known(['uuid-1'], {}, MAX_ALIASES))).toThrow('table is full');
    expect(() => checkAlias('../x', 'uuid-1', known(['uuid-1']))).toThrow('not a valid server id');
  });

  it('refuses each broken rule with its code', () => {
    expect(codeOf(() => checkAlias('cm123', 'nope', known(['uuid-1'])))).toBe('SERVER_NOT_FOUND');
    expect(codeOf(() => checkAlias('uuid-2', 'uuid-1', known(['uuid-1', 'uuid-2'])))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => checkAlias('cm123', 'uuid-1', known(['uuid-1', 'uuid-2'], { cm123: 'uuid-2' })))).toBe(
      'INVALID_PAYLOAD',
    );
    expect(codeOf(() => checkAlias('../x', 'uuid-1', known(['uuid-1'])))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => checkAlias('', 'uuid-1', known(['uuid-1'])))).toBe('INVALID_PAYLOAD');
  });

  it('refuses a new alias once the table is full, but not one that changes nothing', () => {
    expect(codeOf(() => checkAlias('cm9', 'uuid-1', known(['uuid-1'], {}, MAX_ALIASES)))).toBe('INVALID_PAYLOAD');
    expect(checkAlias('cm9', 'uuid-1', known(['uuid-1'], {}, MAX_ALIASES - 1))).toBe('add');
    expect(checkAlias('cm9', 'uuid-1', { ...known(['uuid-1'], { cm9: 'uuid-1' }), size: MAX_ALIASES })).toBe(
      'unchanged',
    );
  });
});
