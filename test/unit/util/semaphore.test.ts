import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../src/util/semaphore.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('Semaphore (servers.createConcurrency)', () => {
  it('runs at most `limit` jobs at once, the rest in arrival order', async () => {
    const slots = new Semaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const done = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        await g.opened;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(slots.stats).toEqual({ active: 2, waiting: 2 });
    gates[1]?.open();
    await done[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.open();
    await Promise.all(done);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(slots.stats).toEqual({ active: 0, waiting: 0 });
  });

  it('gives the place back when a job throws, and drops a waiter whose signal aborts', async () => {
    const slots = new Semaphore(1);
    const hold = gate();
    const first = slots.run(() => hold.opened);
    const controller = new AbortController();
    const aborted = slots.run(async () => 'never', controller.signal);
    controller.abort(new Error('deleted'));
    await expect(aborted).rejects.toThrow('deleted');
    expect(slots.stats).toEqual({ active: 1, waiting: 0 });
    hold.open();
    await first;
    await expect(slots.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run(async () => 'free again')).toBe('free again');
  });

  it('refuses a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
