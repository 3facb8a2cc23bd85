import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/events/bus.js';

describe('EventBus', () => {
  it('numbers non-ephemeral events from 1 and repeats serverId in data', () => {
    const bus = new EventBus();
    const a = bus.publish('server_status_changed', 's1', { currentStatus: 'running' });
    const b = bus.publish('resource_update', 's1', { cpu: 1 });
    const c = bus.publish('daemon_message', undefined, { level: 'info', message: 'x' });
    expect(a.seq).toBe(1);
    expect(b.seq).toBeUndefined();
    expect(c.seq).toBe(2);
    expect(a.data.serverId).toBe('s1');
    expect(bus.epoch).toMatch(/^[0-9a-f]{16}$/);
  });

  it('replays events after a seq and says when they are gone', () => {
    const bus = new EventBus({ maxEvents: 3 });
    for (let i = 0; i < 5; i++) bus.publish('daemon_message', undefined, { i });
    expect(bus.oldestSeq).toBe(3);
    expect(bus.replaySince(3)?.map((e) => e.seq)).toEqual([4, 5]);
    expect(bus.replaySince(2)?.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(bus.replaySince(5)).toEqual([]);
    expect(bus.replaySince(1)).toBeUndefined(); // too old
    expect(bus.replaySince(6)).toBeUndefined(); // ahead
  });

  it('bounds the buffer by bytes too', () => {
    const bus = new EventBus({ maxBytes: 2000 });
    for (let i = 0; i < 100; i++) bus.publish('console_output', 's', { lines: ['x'.repeat(100)] });
    expect(bus.currentSeq).toBe(100);
    expect(bus.oldestSeq).toBeGreaterThan(80);
  });

  it("numbers each server's events contiguously beside the agent-wide seq", () => {
    const bus = new EventBus();
    const a1 = bus.publish('daemon_message', 'a', {});
    bus.publish('daemon_message', 'b', {});
    const a2 = bus.publish('daemon_message', 'a', {});
    expect([a1.serverSeq, a2.serverSeq]).toEqual([1, 2]);
    expect(a2.seq).toBe(3);
  });

  it('continues a persisted epoch and seq', () => {
    const bus = new EventBus({ epoch: 'abcdabcdabcdabcd', startSeq: 41 });
    expect(bus.publish('daemon_message', undefined, {}).seq).toBe(42);
    expect(bus.epoch).toBe('abcdabcdabcdabcd');
  });
});
