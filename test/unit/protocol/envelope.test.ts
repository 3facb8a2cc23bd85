import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../src/errors.js';
import { extractId, normalizeCommand } from '../../../src/protocol/envelope.js';
import { isValidServerId } from '../../../src/protocol/fields.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AgentError ? err.code : 'NOT_AN_AGENT_ERROR';
  }
  return undefined;
}

describe('normalizeCommand (PROTOCOL.md §3.1)', () => {
  it('takes the panel shape as is', () => {
    const c = normalizeCommand({ action: 'stop_server', serverId: 'abc', payload: { timeout: 30 } });
    expect(c).toEqual({ action: 'stop_server', serverId: 'abc', payload: { timeout: 30 }, id: undefined });
  });

  it('maps the documented aliases', () => {
    expect(normalizeCommand({ action: 'get_status' }).action).toBe('get_server_status');
    expect(normalizeCommand({ action: 'get_file' }).action).toBe('read_file');
    expect(normalizeCommand({ action: 'send_server_command' }).action).toBe('console:command');
  });

  it('uses payload, else data, else {}; absent or null payload is {}', () => {
    expect(normalizeCommand({ action: 'x', payload: null }).payload).toEqual({});
    expect(normalizeCommand({ action: 'x' }).payload).toEqual({});
    expect(normalizeCommand({ action: 'x', data: { a: 1 } }).payload).toEqual({ a: 1 });
    expect(normalizeCommand({ action: 'x', payload: { b: 2 }, data: { a: 1 } }).payload).toEqual({ b: 2 });
  });

  it('finds serverId at the top level, then in payload, then in data', () => {
    expect(normalizeCommand({ action: 'x', serverId: 'top', payload: { serverId: 'p' } }).serverId).toBe('top');
    expect(normalizeCommand({ action: 'x', payload: { serverId: 'p' } }).serverId).toBe('p');
    expect(normalizeCommand({ action: 'x', data: { serverId: 'd' } }).serverId).toBe('d');
  });

  it('refuses non-objects, missing or non-string actions, bad payloads', () => {
    expect(codeOf(() => normalizeCommand([]))).toBe('INVALID_COMMAND');
    expect(codeOf(() => normalizeCommand('start'))).toBe('INVALID_COMMAND');
    expect(codeOf(() => normalizeCommand(null))).toBe('INVALID_COMMAND');
    expect(codeOf(() => normalizeCommand({}))).toBe('INVALID_COMMAND');
    expect(codeOf(() => normalizeCommand({ action: 42 }))).toBe('INVALID_COMMAND');
    expect(codeOf(() => normalizeCommand({ action: 'Start_Server' }))).toBe('UNKNOWN_ACTION');
    expect(codeOf(() => normalizeCommand({ action: 'x', payload: [1] }))).toBe('INVALID_PAYLOAD');
    expect(codeOf(() => normalizeCommand({ action: 'x', payload: 'str' }))).toBe('INVALID_PAYLOAD');
  });

  it('echoes string ids up to 128 characters and finite numeric ids', () => {
    expect(extractId({ id: 'c7' })).toBe('c7');
    expect(extractId({ id: 7 })).toBe(7);
    expect(extractId({ id: 'x'.repeat(129) })).toBeUndefined();
    expect(extractId({ id: {} })).toBeUndefined();
  });

  it('never throws anything but an AgentError, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const code = codeOf(() => normalizeCommand(input));
        expect(code === undefined || code !== 'NOT_AN_AGENT_ERROR').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts any action matching ^[a-z][a-z0-9_:]{0,63}$ and only those', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (action) => {
        const ok = /^[a-z][a-z0-9_:]{0,63}$/.test(action);
        expect(codeOf(() => normalizeCommand({ action })) === undefined).toBe(ok);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('server ids', () => {
  it('accepts uuids and cuids', () => {
    expect(isValidServerId('9f3c0a4e5b6d7c8e9fa0b1c2d3e4f5a6')).toBe(true);
    expect(isValidServerId('cm3y0q7rt0004')).toBe(true);
  });

  it('refuses traversal, slashes, whitespace, empty, over-long and non-strings', () => {
    for (const bad of [
      '../x',
      '..',
      'a/b',
      'a b',
      '',
      'x'.repeat(65),
      '-x',
      '.x',
      'a..b',
      'x'.repeat(10_000),
      5,
      null,
    ]) {
      expect(isValidServerId(bad)).toBe(false);
    }
  });

  it('never accepts an id that could leave a directory (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (id) => {
        if (isValidServerId(id)) {
          expect(id).not.toMatch(/[/\\\0\s]/);
          expect(id.includes('..')).toBe(false);
          expect(id.startsWith('.')).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
