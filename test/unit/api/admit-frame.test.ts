import { describe, expect, it } from 'vitest';
import { admitFrame } from '../../../src/api/ws/admit-frame.js';
import type { Admission } from '../../../src/api/ws/rate-limiter.js';
import { CLOSE } from '../../../src/protocol/frames.js';

/** A budget that answers a fixed verdict and counts how often it was asked. */
function budget(verdict: Admission) {
  const asked = { count: 0 };
  return {
    asked,
    admit: () => {
      asked.count++;
      return verdict;
    },
  };
}

const text = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('admitFrame', () => {
  it('passes a well-formed frame within the budget, and marks one over it as refused', () => {
    const frame = { type: 'ping', id: 'p1' };
    expect(admitFrame(text(frame), false, budget('accept'))).toMatchObject({ kind: 'frame', frame });
    expect(admitFrame(text(frame), false, budget('refuse'))).toMatchObject({ kind: 'refused', frame });
  });

  it('closes on binary data without charging the budget, and on a flood without parsing', () => {
    const free = budget('accept');
    expect(admitFrame(text({ type: 'ping' }), true, free)).toEqual({
      kind: 'close',
      code: CLOSE.UNSUPPORTED_DATA,
      reason: 'binary frames are not supported',
    });
    expect(free.asked.count).toBe(0);
    // Not JSON at all: a parse would close with PROTOCOL_VIOLATION, so RATE_LIMITED shows it was never parsed.
    expect(admitFrame(Buffer.from('{not json'), false, budget('close'))).toEqual({
      kind: 'close',
      code: CLOSE.RATE_LIMITED,
      reason: 'rate limit exceeded',
    });
  });

  it('closes with the frame error of a malformed frame, refused or not', () => {
    for (const verdict of ['accept', 'refuse'] as const) {
      const intake = admitFrame(Buffer.from('[1,2]'), false, budget(verdict));
      expect(intake).toMatchObject({ kind: 'close', code: CLOSE.PROTOCOL_VIOLATION });
    }
  });
});
