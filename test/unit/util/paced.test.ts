import { describe, expect, it } from 'vitest';
import { paced } from '../../../src/util/paced.js';

describe('paced', () => {
  it('calls every item once, in order, in groups with the event loop served between them', async () => {
    const calls: string[] = [];
    const items = Array.from({ length: 7 }, (_, i) => i);
    const result = await paced(items, 3, 0, (i) => {
      // A callback queued by the first item of a group runs before the next group starts.
      if (i % 3 === 0) setImmediate(() => calls.push(`turn after ${i}`));
      calls.push(`item ${i}`);
      return i * 2;
    });
    expect(result).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(calls).toEqual([
      'item 0',
      'item 1',
      'item 2',
      'turn after 0',
      'item 3',
      'item 4',
      'item 5',
      'turn after 3',
      'item 6',
    ]);
  });

  it('spreads the groups over spreadMs and does not wait for the promises it is handed', async () => {
    const started: number[] = [];
    const t0 = performance.now();
    let settled = 0;
    const result = await paced([1, 2, 3, 4, 5], 1, 200, async () => {
      started.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 1000));
      settled++;
    });
    expect(result).toHaveLength(5);
    // Group g is due at g·50 ms (timers may fire late on a loaded machine, never early).
    started.forEach((at, g) => {
      expect(at).toBeGreaterThanOrEqual(g * 50 - 2);
    });
    // Had it awaited each call, the second would have started a second after the first.
    expect(started[1]).toBeLessThan(1000);
    await Promise.all(result);
    expect(settled).toBe(5);
  });

  it('calls nothing for no items and refuses a group size below 1', async () => {
    expect(await paced([], 4, 100, () => 1)).toEqual([]);
    await expect(paced([1], 0, 0, () => 1)).rejects.toThrow(RangeError);
  });
});
