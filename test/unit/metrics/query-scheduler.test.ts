import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planFor } from '../../../src/metrics/game-queries.js';
import {
  PermanentQueryError,
  type QueryAnswer,
  type QueryFn,
  QueryScheduler,
  type QueryStatus,
  type QueryTarget,
  type SchedulerClock,
} from '../../../src/metrics/query-scheduler.js';
import { createServerPayload, specFromPayload } from '../../../src/servers/spec.js';

/** A clock whose timers fire only when the test advances it. */
class FakeClock implements SchedulerClock {
  t = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get armed(): number {
    return this.timers.size;
  }
  /** Runs every timer due within `ms`, in time order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const answer = (players: number): QueryAnswer => ({
  players,
  maxPlayers: 16,
  name: 'srv',
  map: 'de_dust',
  latencyMs: 3,
});
const target = (port = 27015): QueryTarget => ({ type: 'protocol-valve', host: '127.0.0.1', port });

function harness(query: QueryFn, overrides: { concurrency?: number; timeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const streaks: { id: string; status: QueryStatus }[] = [];
  const permanent: { id: string; message: string }[] = [];
  const scheduler = new QueryScheduler({
    clock,
    query,
    timeoutMs: overrides.timeoutMs ?? 3000,
    concurrency: overrides.concurrency ?? 8,
    failuresBeforeNotice: 3,
    firstDelayMs: 5000,
    onStreak: (id, status) => streaks.push({ id, status }),
    onPermanent: (id, message) => permanent.push({ id, message }),
  });
  return { clock, scheduler, streaks, permanent };
}

describe('QueryScheduler', () => {
  it('queries first after the start delay, then one interval after each answer, and keeps the last answer', async () => {
    const calls: number[] = [];
    let players = 2;
    const h = harness(async () => {
      calls.push(h.clock.now());
      return answer(players);
    });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 30_000 }));
    expect(h.scheduler.status('a')).toBeUndefined();
    expect(h.scheduler.players('a')).toBe(0);
    await h.clock.advance(4999);
    expect(calls).toEqual([]);
    await h.clock.advance(1);
    expect(calls).toEqual([5000]);
    expect(h.scheduler.status('a')).toEqual({
      online: true,
      players: 2,
      maxPlayers: 16,
      name: 'srv',
      map: 'de_dust',
      latencyMs: 3,
      at: new Date(5000).toISOString(),
    });
    players = 1;
    await h.clock.advance(30_000);
    expect(calls).toEqual([5000, 35_000]);
    expect(h.scheduler.players('a')).toBe(1);
  });

  it('uses the interval for the first query when it is shorter than the start delay', async () => {
    const calls: number[] = [];
    const h = harness(async () => {
      calls.push(h.clock.now());
      return answer(0);
    });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 2000 }));
    await h.clock.advance(4000);
    expect(calls).toEqual([2000, 4000]);
  });

  it('sends one notice after three failures in a row, none after more, and again only after a success', async () => {
    const results: (number | Error)[] = [
      1,
      ...Array(5).fill(new Error('timeout')),
      3,
      ...Array(3).fill(new Error('x')),
    ];
    const h = harness(async () => {
      const next = results.shift();
      if (next instanceof Error) throw next;
      return answer(next ?? 0);
    });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 5000 }));
    await h.clock.advance(5000);
    expect(h.scheduler.players('a')).toBe(1);
    await h.clock.advance(10_000); // two failures
    expect(h.streaks).toHaveLength(0);
    expect(h.scheduler.players('a')).toBe(0);
    expect(h.scheduler.status('a')).toMatchObject({ online: false, players: 0, maxPlayers: 16, latencyMs: null });
    await h.clock.advance(5000); // the third
    expect(h.streaks).toEqual([
      { id: 'a', status: expect.objectContaining({ online: false, failures: 3, error: 'timeout' }) },
    ]);
    await h.clock.advance(10_000); // fourth and fifth: still one notice
    expect(h.streaks).toHaveLength(1);
    expect(h.scheduler.status('a')?.failures).toBe(5);
    await h.clock.advance(5000); // a success resets
    expect(h.scheduler.status('a')).toMatchObject({ online: true, players: 3 });
    expect(h.scheduler.status('a')?.failures).toBeUndefined();
    await h.clock.advance(15_000);
    expect(h.streaks).toHaveLength(2);
  });

  it('gives up on a permanent failure at once: one report, no timer left', async () => {
    let calls = 0;
    const h = harness(async () => {
      calls++;
      throw new PermanentQueryError('unknown query type "nope"');
    });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 5000 }));
    await h.clock.advance(60_000);
    expect(calls).toBe(1);
    expect(h.permanent).toEqual([{ id: 'a', message: 'unknown query type "nope"' }]);
    expect(h.streaks).toHaveLength(0);
    expect(h.scheduler.status('a')).toMatchObject({ online: false, error: 'unknown query type "nope"' });
    expect(h.clock.armed).toBe(0);
  });

  it('counts a query with no answer within the timeout as a failure and frees its slot', async () => {
    const h = harness(() => new Promise<QueryAnswer>(() => undefined), { timeoutMs: 3000, concurrency: 1 });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 5000 }));
    await h.clock.advance(5000);
    expect(h.scheduler.pending.active).toBe(1);
    await h.clock.advance(3000);
    expect(h.scheduler.status('a')).toMatchObject({ online: false, error: 'no answer within 3000 ms', failures: 1 });
    expect(h.scheduler.pending).toEqual({ timers: 1, queued: 0, active: 0 });
  });

  it('runs at most `concurrency` queries at once across servers; the rest wait, each once', async () => {
    const inFlight: ((a: QueryAnswer) => void)[] = [];
    let peak = 0;
    const h = harness(
      () =>
        new Promise<QueryAnswer>((resolve) => {
          inFlight.push(resolve);
          peak = Math.max(peak, inFlight.length);
        }),
      { concurrency: 2, timeoutMs: 60_000 },
    );
    for (const id of ['a', 'b', 'c', 'd', 'e']) h.scheduler.watch(id, () => ({ target: target(), intervalMs: 30_000 }));
    await h.clock.advance(5000);
    expect(h.scheduler.pending).toEqual({ timers: 0, queued: 3, active: 2 });
    while (inFlight.length > 0) {
      for (const resolve of inFlight.splice(0)) resolve(answer(1));
      await settle();
    }
    expect(peak).toBe(2);
    expect(h.scheduler.pending).toEqual({ timers: 5, queued: 0, active: 0 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(h.scheduler.players(id)).toBe(1);
  });

  it('unwatch drops a queued server, discards an answer in flight and leaves no timer', async () => {
    const inFlight: ((a: QueryAnswer) => void)[] = [];
    const h = harness(() => new Promise<QueryAnswer>((resolve) => inFlight.push(resolve)), {
      concurrency: 1,
      timeoutMs: 60_000,
    });
    h.scheduler.watch('a', () => ({ target: target(), intervalMs: 30_000 }));
    h.scheduler.watch('b', () => ({ target: target(), intervalMs: 30_000 }));
    await h.clock.advance(5000);
    expect(h.scheduler.pending).toEqual({ timers: 0, queued: 1, active: 1 });
    h.scheduler.unwatch('b');
    h.scheduler.unwatch('a');
    expect(h.scheduler.pending.queued).toBe(0);
    inFlight.shift()?.(answer(4));
    await h.clock.advance(60_000);
    expect(inFlight).toHaveLength(0); // b never ran
    expect(h.scheduler.status('a')).toBeUndefined();
    expect(h.scheduler.players('a')).toBe(0);
    expect(h.clock.armed).toBe(0);
  });

  it('reads the plan before each query and ends quietly when the query is removed from the spec', async () => {
    const ports: number[] = [];
    let plan: { target: QueryTarget; intervalMs: number } | undefined = { target: target(1), intervalMs: 5000 };
    const h = harness(async (t) => {
      ports.push(t.port);
      return answer(0);
    });
    h.scheduler.watch('a', () => plan);
    await h.clock.advance(5000);
    plan = { target: target(2), intervalMs: 5000 };
    await h.clock.advance(5000);
    plan = undefined;
    await h.clock.advance(20_000);
    expect(ports).toEqual([1, 2]);
    expect(h.scheduler.isWatched('a')).toBe(false);
    expect(h.clock.armed).toBe(0);
    expect(h.streaks).toHaveLength(0);
  });

  it('keeps whatever a game server reports as a count a finite, bounded, non-negative integer', async () => {
    const hostile = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, -1, 2 ** 53, Infinity));
    await fc.assert(
      fc.asyncProperty(hostile, hostile, fc.string({ maxLength: 2000 }), async (players, maxPlayers, name) => {
        const h = harness(async () => ({ players, maxPlayers, name, latencyMs: 1 }));
        h.scheduler.watch('a', () => ({ target: target(), intervalMs: 5000 }));
        await h.clock.advance(5000);
        const status = h.scheduler.status('a') as QueryStatus;
        for (const n of [status.players, status.maxPlayers]) {
          expect(Number.isInteger(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(0);
          expect(n).toBeLessThanOrEqual(1_000_000);
        }
        expect((status.name ?? '').length).toBeLessThanOrEqual(256);
      }),
      { numRuns: 200 },
    );
  });
});

describe('planFor', () => {
  const spec = (payload: Record<string, unknown>) =>
    specFromPayload('s1', createServerPayload.parse({ image: 'busybox', ...payload }), new Date(0));

  it('queries the first published host port on loopback when the port is bound to every address', () => {
    const plan = planFor(
      spec({ ports: [{ port: 27015, internal: 27016 }, { port: 27020 }], query: { type: 'protocol-valve' } }),
      '0.0.0.0',
    );
    expect(plan).toEqual({ target: { type: 'protocol-valve', host: '127.0.0.1', port: 27015 }, intervalMs: 30_000 });
  });

  it('uses query.port and the address that port is bound to, and SERVER_PORT when there are no ports', () => {
    expect(
      planFor(
        spec({
          ports: [{ port: 27015 }, { ip: '10.0.0.5', port: 27020 }],
          query: { type: 'minecraft', port: 27020, intervalSeconds: 5 },
        }),
        '0.0.0.0',
      ),
    ).toEqual({ target: { type: 'minecraft', host: '10.0.0.5', port: 27020 }, intervalMs: 5000 });
    expect(
      planFor(spec({ environment: { SERVER_PORT: '25565' }, query: { type: 'minecraft' } }), '192.0.2.7')?.target,
    ).toEqual({ type: 'minecraft', host: '192.0.2.7', port: 25565 });
  });

  it('is a permanent failure without a port, and no plan without a query', () => {
    expect(() => planFor(spec({ query: { type: 'minecraft' } }), '0.0.0.0')).toThrow(PermanentQueryError);
    expect(planFor(spec({ ports: [{ port: 1 }] }), '0.0.0.0')).toBeUndefined();
  });

  it('create_server refuses unsafe types and intervals outside 5-3600 s', () => {
    const parse = (query: unknown) => createServerPayload.safeParse({ image: 'busybox', query }).success;
    expect(parse({ type: 'openttd' })).toBe(true);
    expect(parse({ type: 'protocol-valve', intervalSeconds: '3600' })).toBe(true);
    for (const bad of [
      { type: '' },
      { type: 'Minecraft' },
      { type: '../x' },
      { type: 'a'.repeat(65) },
      { type: 'openttd', intervalSeconds: 4 },
      { type: 'openttd', intervalSeconds: 3601 },
      { type: 'openttd', port: 0 },
      { type: '__proto__x y' },
    ])
      expect(parse(bad)).toBe(false);
  });
});
