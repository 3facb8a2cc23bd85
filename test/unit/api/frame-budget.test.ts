import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameBudget } from '../../../src/api/ws/rate-limiter.js';

describe('FrameBudget', () => {
  it('accepts at most burst + rate x elapsed, refuses before it closes, and closes only a sustained flood', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 2_000 }),
        (rate, burst, gapsMs) => {
          let now = 0;
          const budget = new FrameBudget(rate, burst, () => now);
          let accepted = 0;
          let refused = 0;
          let closedAfter: number | undefined;
          for (const [i, gap] of gapsMs.entries()) {
            now += gap;
            const verdict = budget.admit();
            if (verdict === 'accept') accepted++;
            else if (verdict === 'refuse') refused++;
            else {
              closedAfter = i;
              break;
            }
          }
          expect(accepted).toBeLessThanOrEqual(burst + Math.floor((now / 1000) * rate) + 1);
          if (closedAfter !== undefined) expect(refused).toBeGreaterThanOrEqual(burst);
        },
      ),
    );
  });

  it('closes a flood that arrives at once after exactly burst accepts and burst refusals', () => {
    const budget = new FrameBudget(50, 100, () => 0);
    const verdicts = Array.from({ length: 201 }, () => budget.admit());
    expect(verdicts.filter((v) => v === 'accept')).toHaveLength(100);
    expect(verdicts.filter((v) => v === 'refuse')).toHaveLength(100);
    expect(verdicts[200]).toBe('close');
  });
});
