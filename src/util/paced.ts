import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `fn` on `items` in groups of `perGroup`, with the event loop served between two groups, and the groups
 * spread evenly over `spreadMs` (0: one turn of the loop apart). Periodic per-server work (sampling 200 servers)
 * then never holds a request for longer than one group, and does not come as one burst at each interval that
 * everything else queues behind. (The reconciler's sweep awaits each server in turn, so it yields on its own.) Returns what each call returned, in order, as soon as
 * the last group has been called: promises among them are the caller's to await, so a call that waits (a first
 * sample's baseline window) does not hold back the groups after it.
 */
export async function paced<T, R>(
  items: readonly T[],
  perGroup: number,
  spreadMs: number,
  fn: (item: T) => R,
): Promise<R[]> {
  if (!Number.isInteger(perGroup) || perGroup < 1) throw new RangeError(`perGroup must be ≥ 1, got ${perGroup}`);
  const groups = Math.ceil(items.length / perGroup);
  const gapMs = groups > 1 ? spreadMs / (groups - 1) : 0;
  const start = performance.now();
  const out: R[] = [];
  for (let g = 0; g < groups; g++) {
    // Group g is due at start + g·gap; a group late behind slow ones goes at the next turn, not later still.
    const waitMs = start + g * gapMs - performance.now();
    if (g > 0) await (waitMs >= 1 ? sleep(waitMs) : nextTurn());
    for (const item of items.slice(g * perGroup, (g + 1) * perGroup)) out.push(fn(item));
  }
  return out;
}
