import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../src/errors.js';
import { PowerLock } from '../../../src/servers/power-lock.js';
import { canTransition, SERVER_STATES } from '../../../src/servers/state.js';

describe('state transitions (PROTOCOL.md §7)', () => {
  it('follows the documented paths', () => {
    expect(canTransition('installing', 'offline')).toBe(true);
    expect(canTransition('installing', 'install_failed')).toBe(true);
    expect(canTransition('install_failed', 'installing')).toBe(true);
    expect(canTransition('offline', 'starting')).toBe(true);
    expect(canTransition('crashed', 'starting')).toBe(true);
    expect(canTransition('starting', 'running')).toBe(true);
    expect(canTransition('running', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'offline')).toBe(true);
    expect(canTransition('running', 'crashed')).toBe(true);
    expect(canTransition('offline', 'suspended')).toBe(true);
    expect(canTransition('suspended', 'offline')).toBe(true);
  });

  it('refuses impossible jumps', () => {
    expect(canTransition('install_failed', 'running')).toBe(false);
    expect(canTransition('suspended', 'starting')).toBe(false);
    expect(canTransition('installing', 'running')).toBe(false);
    expect(canTransition('offline', 'stopping')).toBe(false);
    expect(canTransition('stopping', 'running')).toBe(false);
  });

  it('has exactly the eight panel states', () => {
    expect([...SERVER_STATES].sort()).toEqual([
      'crashed',
      'install_failed',
      'installing',
      'offline',
      'running',
      'starting',
      'stopping',
      'suspended',
    ]);
  });
});

describe('PowerLock', () => {
  it('joins the same action and refuses a conflicting one with SERVER_BUSY', async () => {
    const lock = new PowerLock(() => undefined);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = lock.run('stop', () => gate);
    expect(first.joined).toBe(false);
    expect(lock.run('stop', async () => undefined).joined).toBe(true);
    expect(() => lock.run('start', async () => undefined)).toThrowError(AgentError);
    try {
      lock.run('start', async () => undefined);
    } catch (err) {
      expect((err as AgentError).code).toBe('SERVER_BUSY');
    }
    release();
    await first.done;
    expect(lock.current).toBeUndefined();
    expect(lock.run('start', async () => undefined).joined).toBe(false);
  });

  it('lets kill pre-empt: the holder is aborted and the lock is free at once', async () => {
    const lock = new PowerLock(() => undefined);
    let aborted = false;
    const held = lock.run(
      'stop',
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
    );
    lock.preempt();
    expect(lock.current).toBeUndefined();
    await held.done;
    expect(aborted).toBe(true);
  });

  it('releases the lock and reports the error when the job throws', async () => {
    const errors: unknown[] = [];
    const lock = new PowerLock((err) => errors.push(err));
    const { done } = lock.run('start', async () => {
      throw new Error('boom');
    });
    await done;
    expect(lock.current).toBeUndefined();
    expect(String(errors[0])).toContain('boom');
  });
});
