import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../../src/protocol/events.js';
import { decideResume, type ReplaySource } from '../../../src/protocol/resume.js';

function source(oldest: number, current: number): ReplaySource {
  const events: AgentEvent[] = [];
  for (let seq = oldest; seq <= current; seq++) {
    events.push({ event: 'console_output', seq, timestamp: '', data: {} });
  }
  return {
    epoch: 'e1',
    currentSeq: current,
    replaySince: (after) => (after + 1 < oldest ? undefined : events.filter((e) => (e.seq ?? 0) > after)),
  };
}

describe('decideResume', () => {
  it('asks for nothing without a since object', () => {
    expect(decideResume(undefined, source(1, 5))).toBeUndefined();
    expect(decideResume('x', source(1, 5))).toBeUndefined();
  });

  it('names each reason to rebuild', () => {
    expect(decideResume({ epoch: 'other', seq: 3 }, source(1, 5))).toEqual({ resumed: false, reason: 'epoch_changed' });
    expect(decideResume({ epoch: 'e1', seq: 9 }, source(1, 5))).toEqual({ resumed: false, reason: 'ahead' });
    expect(decideResume({ epoch: 'e1', seq: 'x' }, source(1, 5))).toEqual({ resumed: false, reason: 'ahead' });
    expect(decideResume({ epoch: 'e1', seq: 1 }, source(10, 20))).toEqual({ resumed: false, reason: 'too_old' });
  });

  it('replays exactly the events after seq when they are all held (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 70 }),
        (oldest, span, seq) => {
          const current = oldest + span;
          const decision = decideResume({ epoch: 'e1', seq }, source(oldest, current));
          if (seq > current) expect(decision).toEqual({ resumed: false, reason: 'ahead' });
          else if (seq + 1 < oldest) expect(decision).toEqual({ resumed: false, reason: 'too_old' });
          else {
            expect(decision?.resumed).toBe(true);
            if (decision?.resumed)
              expect(decision.missed.map((e) => e.seq)).toEqual(
                Array.from({ length: current - seq }, (_, i) => seq + 1 + i),
              );
          }
        },
      ),
    );
  });
});
