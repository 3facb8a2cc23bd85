import { AgentError } from '../errors.js';
import { type PortBinding, resolveStartup, type ServerSpec } from './spec.js';

/**
 * The ports pool and the node-wide port check (PROTOCOL.md §4.6 "Ports pool"). A server created without `ports`
 * and without a numeric SERVER_PORT gets a free port of `allocations.pool`; a port another server of this agent
 * already publishes is refused with PORT_CONFLICT when the spec is stored, not when Docker fails to bind at start.
 * The functions are pure (unit-tested with fast-check); `PortPool` adds the serialisation of allocations.
 */

export interface PoolRange {
  from: number;
  to: number;
  /** The host address the range binds to; undefined: servers.defaultIp. */
  ip: string | undefined;
}

/** One published binding as the host sees it: the address is resolved (never undefined). */
export interface HostPort {
  ip: string;
  port: number;
  protocol: PortBinding['protocol'];
}

export interface HeldPort extends HostPort {
  serverId: string;
}

/** A wildcard address binds every interface, so it clashes with any address on the same port. */
function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip === '';
}

export function overlaps(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  if (a.protocol !== 'both' && b.protocol !== 'both' && a.protocol !== b.protocol) return false;
  return a.ip === b.ip || isWildcard(a.ip) || isWildcard(b.ip);
}

/** What a spec publishes on the host: its `ports`, else a numeric SERVER_PORT (both protocols), as at start. */
export function publishedPorts(spec: ServerSpec, defaultIp: string): HostPort[] {
  // resolveStartup holds the rule (ports, else SERVER_PORT, else none); the timezone does not affect ports.
  const { ports } = resolveStartup(spec, { ip: defaultIp, timezone: 'UTC' });
  return ports.map((p) => ({ ip: p.ip ?? defaultIp, port: p.port, protocol: p.protocol }));
}

/** The first of `wanted` that another holder already publishes, with that holder. */
export function findClash(wanted: HostPort[], held: HeldPort[]): { port: HostPort; holder: HeldPort } | undefined {
  for (const port of wanted) {
    const holder = held.find((h) => overlaps(port, h));
    if (holder) return { port, holder };
  }
  return undefined;
}

/**
 * The first free port of the pool (ranges in order, ports ascending), free for TCP and UDP on the range's address.
 * Held ports are indexed by number first, so an almost full pool costs one map look-up per candidate.
 */
export function pickFromPool(
  ranges: readonly PoolRange[],
  held: readonly HostPort[],
  defaultIp: string,
): { ip: string | undefined; port: number } | undefined {
  const byPort = new Map<number, HostPort[]>();
  for (const h of held) {
    const list = byPort.get(h.port);
    if (list) list.push(h);
    else byPort.set(h.port, [h]);
  }
  for (const range of ranges) {
    const ip = range.ip ?? defaultIp;
    for (let port = range.from; port <= range.to; port++) {
      const candidate: HostPort = { ip, port, protocol: 'both' };
      if (!(byPort.get(port) ?? []).some((h) => overlaps(candidate, h))) return { ip: range.ip, port };
    }
  }
  return undefined;
}

export function inPool(ranges: readonly PoolRange[], ip: string | undefined, port: number): boolean {
  return ranges.some((r) => r.ip === ip && port >= r.from && port <= r.to);
}

export class PortPool {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ranges: readonly PoolRange[],
    private readonly defaultIp: string,
  ) {}

  /**
   * Runs `fn` after every earlier allocation has finished. Placement reads the other servers' specs and the
   * caller then stores the new one; without this, two concurrent creates could both see a port free and take it.
   */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * The spec to store for `spec`: published ports checked against `others` (PORT_CONFLICT), or, with nothing
   * published and a pool configured, a pool port (the previous one when it is still free, so an update does
   * not move a server's address). Call inside `serialize` and store the result before it returns.
   */
  place(spec: ServerSpec, others: readonly ServerSpec[], previous?: ServerSpec): ServerSpec {
    const held: HeldPort[] = others
      .filter((o) => o.id !== spec.id)
      .flatMap((o) => publishedPorts(o, this.defaultIp).map((p) => ({ ...p, serverId: o.id })));
    const wanted = publishedPorts(spec, this.defaultIp);
    if (wanted.length > 0) {
      const clash = findClash(wanted, held);
      if (clash) {
        const { port, holder } = clash;
        throw new AgentError(
          'PORT_CONFLICT',
          `port ${port.ip}:${port.port}/${port.protocol} is already published by server ${holder.serverId}`,
          { port: port.port, ip: port.ip, protocol: port.protocol, heldBy: holder.serverId },
        );
      }
      return { ...spec, portFromPool: undefined };
    }
    if (this.ranges.length === 0) return { ...spec, portFromPool: undefined };
    const kept = previous?.portFromPool ? previous.ports[0] : undefined;
    const reuse =
      kept &&
      inPool(this.ranges, kept.ip, kept.port) &&
      !findClash([{ ip: kept.ip ?? this.defaultIp, port: kept.port, protocol: 'both' }], held);
    const picked = reuse ? { ip: kept.ip, port: kept.port } : pickFromPool(this.ranges, held, this.defaultIp);
    if (!picked) {
      throw new AgentError('INSUFFICIENT_RESOURCES', 'every port of the ports pool (allocations.pool) is taken');
    }
    return {
      ...spec,
      ports: [{ ip: picked.ip, port: picked.port, internal: picked.port, protocol: 'both' }],
      portFromPool: true,
    };
  }
}
