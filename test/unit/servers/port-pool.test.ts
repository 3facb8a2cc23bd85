import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import {
  findClash,
  type HostPort,
  overlaps,
  type PoolRange,
  PortPool,
  pickFromPool,
} from '../../../src/servers/port-pool.js';
import { createServerPayload, type ServerSpec, specFromPayload } from '../../../src/servers/spec.js';

const DEFAULT_IP = '0.0.0.0';
const now = new Date('2026-01-01T00:00:00Z');

function spec(id: string, payload: Record<string, unknown> = {}): ServerSpec {
  return specFromPayload(id, createServerPayload.parse({ image: 'busybox', ...payload }), now);
}

// Small port space so that generated pools fill up and the exhausted case is reached often.
const LOW = 1000;
const HIGH = 1040;
const ips = fc.constantFrom<string | undefined>(undefined, '127.0.0.1', '10.0.0.5');
const range: fc.Arbitrary<PoolRange> = fc
  .tuple(fc.integer({ min: LOW, max: HIGH }), fc.integer({ min: 0, max: 12 }), ips)
  .map(([from, span, ip]) => ({ from, to: Math.min(HIGH, from + span), ip }));
const held: fc.Arbitrary<HostPort> = fc.record({
  ip: fc.constantFrom('0.0.0.0', '127.0.0.1', '10.0.0.5', '::'),
  port: fc.integer({ min: LOW, max: HIGH }),
  protocol: fc.constantFrom<HostPort['protocol']>('both', 'tcp', 'udp'),
});

describe('pickFromPool', () => {
  it('returns a port of the pool that clashes with nothing held, and nothing only when every pool port clashes', () => {
    fc.assert(
      fc.property(fc.array(range, { maxLength: 4 }), fc.array(held, { maxLength: 60 }), (ranges, taken) => {
        const picked = pickFromPool(ranges, taken, DEFAULT_IP);
        const candidates = ranges.flatMap((r) =>
          Array.from({ length: r.to - r.from + 1 }, (_, i) => ({ ip: r.ip, port: r.from + i })),
        );
        const free = (c: { ip: string | undefined; port: number }) =>
          !taken.some((t) => overlaps({ ip: c.ip ?? DEFAULT_IP, port: c.port, protocol: 'both' }, t));
        if (picked === undefined) {
          expect(candidates.filter(free)).toEqual([]);
        } else {
          expect(candidates).toContainEqual(picked);
          expect(free(picked)).toBe(true);
          // The first free one, in range order: allocation is deterministic.
          expect(candidates.find(free)).toEqual(picked);
        }
      }),
    );
  });

  it('treats a wildcard holder as holding the port on every address, for both protocols', () => {
    const pool: PoolRange[] = [{ from: 2000, to: 2001, ip: '10.0.0.5' }];
    expect(pickFromPool(pool, [{ ip: '0.0.0.0', port: 2000, protocol: 'udp' }], DEFAULT_IP)).toEqual({
      ip: '10.0.0.5',
      port: 2001,
    });
    expect(pickFromPool(pool, [{ ip: '127.0.0.1', port: 2000, protocol: 'both' }], DEFAULT_IP)).toEqual({
      ip: '10.0.0.5',
      port: 2000,
    });
  });
});

describe('overlaps', () => {
  it('is symmetric and needs the same port', () => {
    fc.assert(
      fc.property(held, held, (a, b) => {
        expect(overlaps(a, b)).toBe(overlaps(b, a));
        if (a.port !== b.port) expect(overlaps(a, b)).toBe(false);
      }),
    );
  });

  it('keeps TCP and UDP apart, and separate addresses apart', () => {
    expect(overlaps({ ip: '1.1.1.1', port: 1, protocol: 'tcp' }, { ip: '1.1.1.1', port: 1, protocol: 'udp' })).toBe(
      false,
    );
    expect(overlaps({ ip: '1.1.1.1', port: 1, protocol: 'tcp' }, { ip: '1.1.1.2', port: 1, protocol: 'tcp' })).toBe(
      false,
    );
    expect(findClash([{ ip: '1.1.1.1', port: 1, protocol: 'tcp' }], [])).toBeUndefined();
  });
});

describe('PortPool.place', () => {
  const pool = new PortPool([{ from: 25565, to: 25567, ip: undefined }], DEFAULT_IP);

  it('gives a server without ports the first free pool port, for TCP and UDP, and marks it', () => {
    const a = pool.place(spec('a'), []);
    expect(a.ports).toEqual([{ ip: undefined, port: 25565, internal: 25565, protocol: 'both' }]);
    expect(a.portFromPool).toBe(true);
    const b = pool.place(spec('b'), [a]);
    expect(b.ports[0]?.port).toBe(25566);
  });

  it('counts a SERVER_PORT-derived port as held, and refuses an explicit clash with PORT_CONFLICT', () => {
    const a = pool.place(spec('a', { environment: { SERVER_PORT: '25565' } }), []);
    expect(a.portFromPool).toBeUndefined();
    expect(pool.place(spec('b'), [a]).ports[0]?.port).toBe(25566);
    expect(() => pool.place(spec('c', { ports: [{ port: 25565, protocol: 'udp' }] }), [a])).toThrow(
      expect.objectContaining({ code: 'PORT_CONFLICT', details: expect.objectContaining({ heldBy: 'a' }) }),
    );
    // The server's own previous spec is not a holder (re-create and update of the same id).
    expect(pool.place(spec('a', { environment: { SERVER_PORT: '25565' } }), [a]).ports).toEqual([]);
  });

  it('keeps the previous pool port on a re-placement while it is free', () => {
    const a = pool.place(spec('a'), []);
    const c = pool.place(spec('c'), [a]);
    const again = pool.place(spec('c', { name: 'renamed' }), [a], c);
    expect(again.ports[0]?.port).toBe(c.ports[0]?.port);
  });

  it('answers INSUFFICIENT_RESOURCES when the pool is full, and leaves servers alone without a pool', () => {
    const taken: ServerSpec[] = [];
    for (const id of ['a', 'b', 'c']) taken.push(pool.place(spec(id), taken));
    expect(() => pool.place(spec('d'), taken)).toThrow(expect.objectContaining({ code: 'INSUFFICIENT_RESOURCES' }));
    expect(new PortPool([], DEFAULT_IP).place(spec('d'), taken).ports).toEqual([]);
  });

  it('serialises allocations: concurrent placements that store their result get distinct ports', async () => {
    const stored: ServerSpec[] = [];
    const yieldOnce = () => new Promise((r) => setImmediate(r));
    await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        pool.serialize(async () => {
          const placed = pool.place(spec(id), stored);
          await yieldOnce(); // the store write of a real create
          stored.push(placed);
        }),
      ),
    );
    expect(new Set(stored.map((s) => s.ports[0]?.port))).toEqual(new Set([25565, 25566, 25567]));
  });
});

describe('allocations.pool config', () => {
  const parse = (pool: unknown) => configSchema.shape.allocations.safeParse({ pool });

  it('takes "from-to", a single port and {from, to?, ip?}', () => {
    expect(parse(['25565-25600', '27015', { from: 28000, to: 28010, ip: '10.0.0.5' }, { from: 29000 }]).data).toEqual({
      pool: [
        { from: 25565, to: 25600, ip: undefined },
        { from: 27015, to: 27015, ip: undefined },
        { from: 28000, to: 28010, ip: '10.0.0.5' },
        { from: 29000, to: 29000, ip: undefined },
      ],
    });
  });

  it('refuses reversed, out-of-range and malformed ranges', () => {
    for (const bad of ['25600-25565', '0-10', '65530-65536', 'a-b', '1-2-3', { from: 10, to: 5 }, { to: 5 }]) {
      expect(parse([bad]).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
