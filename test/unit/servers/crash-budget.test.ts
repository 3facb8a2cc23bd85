import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrashBudget } from '../../../src/servers/crash-budget.js';

describe('CrashBudget', () => {
  it('restarts with a doubling delay until the budget is spent, then refuses', () => {
    let now = 0;
    const budget = new CrashBudget(
      () => ({ max: 3, windowMs: 60_000 }),
      () => now,
    );
    expect(budget.crashed('s')).toEqual({ restart: true, attempt: 1, delayMs: 1000 });
    now += 5_000;
    expect(budget.crashed('s')).toEqual({ restart: true, attempt: 2, delayMs: 2000 });
    now += 5_000;
    expect(budget.crashed('s')).toEqual({ restart: true, attempt: 3, delayMs: 4000 });
    now += 5_000;
    expect(budget.crashed('s')).toEqual({ restart: false, crashes: 4 });
    expect(budget.status('s')).toEqual({ used: 3, max: 3, exhausted: true });
    expect(budget.status('other')).toEqual({ used: 0, max: 3, exhausted: false });
  });

  it('frees the budget as crashes leave the window', () => {
    let now = 0;
    const budget = new CrashBudget(
      () => ({ max: 2, windowMs: 10_000 }),
      () => now,
    );
    budget.crashed('s');
    now = 9_999;
    budget.crashed('s');
    expect(budget.crashed('s').restart).toBe(false);
    now = 10_000; // the first crash has left the window
    expect(budget.crashed('s')).toEqual({ restart: true, attempt: 2, delayMs: 2000 });
    expect(budget.status('s').exhausted).toBe(false);
    budget.forget('s');
    expect(budget.status('s')).toEqual({ used: 0, max: 2, exhausted: false });
  });

  it('never allows more than max restarts in any window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.integer({ min: 0, max: 50_000 }), { maxLength: 60 }),
        (max, windowMs, gaps) => {
          let now = 0;
          const budget = new CrashBudget(
            () => ({ max, windowMs }),
            () => now,
          );
          const restarts: number[] = [];
          for (const gap of gaps) {
            now += gap;
            const decision = budget.crashed('s');
            if (decision.restart) {
              restarts.push(now);
              expect(decision.delayMs).toBe(1000 * 2 ** (decision.attempt - 1));
            }
            const inWindow = restarts.filter((t) => now - t < windowMs).length;
            expect(inWindow).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });
});
