import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BootLoop } from '../../../src/agent/boot-loop.js';
import { Closers } from '../../../src/agent/closers.js';

const log = pino({ level: 'silent' });

describe('Closers', () => {
  it('closes in reverse order of registration, goes on past a failure and a hang', async () => {
    const closed: string[] = [];
    const closers = new Closers(log, 50);
    closers.add('docker', 1, () => closed.push('docker'));
    closers.add('hangs', 2, () => new Promise(() => undefined));
    closers.add('fails', 3, () => {
      closed.push('fails');
      throw new Error('boom');
    });
    const value = closers.add('http', { port: 1 }, async () => closed.push('http'));
    expect(value).toEqual({ port: 1 });
    await closers.closeAll();
    expect(closed).toEqual(['http', 'fails', 'docker']);
    expect(closers.names).toEqual([]);
  });
});

describe('BootLoop', () => {
  it('runs one attempt at a time, retries after a failure, and stops once booted', async () => {
    let calls = 0;
    let fail = true;
    let release: () => void = () => undefined;
    const loop = new BootLoop(async () => {
      calls++;
      await new Promise<void>((r) => {
        release = r;
      });
      if (fail) throw new Error('docker gone');
    }, log);
    const first = loop.trigger();
    const joined = loop.trigger();
    expect(loop.state).toBe('booting');
    release();
    await Promise.all([first, joined]);
    expect(calls).toBe(1);
    expect(loop.state).toBe('waiting');
    fail = false;
    const second = loop.trigger();
    release();
    await second;
    expect(loop.state).toBe('booted');
    await loop.trigger();
    expect(calls).toBe(2);
  });

  it('starts nothing once closed, and lets an attempt in progress finish', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const loop = new BootLoop(async () => {
      calls++;
      await new Promise<void>((r) => {
        release = r;
      });
    }, log);
    void loop.trigger();
    loop.close();
    release();
    await loop.settled();
    expect(loop.state).toBe('closed');
    await loop.trigger();
    expect(calls).toBe(1);
  });
});
