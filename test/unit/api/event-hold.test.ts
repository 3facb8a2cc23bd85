import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventHold } from '../../../src/api/ws/event-hold.js';

describe('EventHold', () => {
  it('sends nothing while a command is in flight, then everything held, in order, once none is', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('begin', 'end', 'event'), { maxLength: 300 }), (steps) => {
        const hold = new EventHold<number>(1_000);
        const sent: number[] = [];
        let inFlight = 0;
        let next = 0;
        for (const step of steps) {
          if (step === 'begin') {
            hold.begin();
            inFlight++;
          } else if (step === 'end' && inFlight > 0) {
            const released = hold.end();
            inFlight--;
            if (inFlight > 0) expect(released).toEqual([]);
            sent.push(...released);
          } else if (step === 'event') {
            const event = next++;
            const verdict = hold.offer(event);
            expect(verdict).toBe(inFlight === 0 ? 'send' : 'held');
            if (verdict === 'send') sent.push(event);
          }
        }
        // Every event not still held went out exactly once, in the order it was offered.
        expect(sent).toEqual(Array.from({ length: sent.length }, (_, i) => i));
        if (inFlight === 0) expect(sent).toHaveLength(next);
      }),
    );
  });

  it('overflows past its bound and holds nothing after clear()', () => {
    const hold = new EventHold<string>(2);
    hold.begin();
    expect([hold.offer('a'), hold.offer('b'), hold.offer('c')]).toEqual(['held', 'held', 'overflow']);
    hold.clear();
    expect(hold.end()).toEqual([]);
    expect(hold.offer('d')).toBe('send');
  });
});
