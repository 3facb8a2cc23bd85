import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.js';
import type { ServerRegistry } from '../servers/registry.js';
import { resolveStartup, type ServerSpec } from '../servers/spec.js';
import { gamedigQuery } from './gamedig-query.js';
import {
  PermanentQueryError,
  type QueryFn,
  type QueryPlan,
  QueryScheduler,
  type QueryStatus,
  realClock,
  type SchedulerClock,
} from './query-scheduler.js';

export interface GameQueriesOptions {
  registry: ServerRegistry;
  bus: EventBus;
  log: Logger;
  /** `servers.defaultIp`: where a port without an ip of its own is published. */
  defaultIp: string;
  timeoutMs: number;
  concurrency: number;
  query?: QueryFn;
  clock?: SchedulerClock;
}

/** Three in a row, as PROTOCOL.md §4.6 says: one lost UDP answer is noise, three are a server that is gone. */
const FAILURES_BEFORE_NOTICE = 3;
const FIRST_DELAY_MS = 5_000;

/**
 * Queries each `running` server that has a `query` in its spec (PROTOCOL.md §4.6 "Game queries"). It follows
 * the event bus: a server is watched from the moment it becomes `running` (for a server with `startupDone`, the
 * matching console line) and forgotten as soon as it leaves `running` or is deleted, so no timer outlives it.
 */
export class GameQueries {
  private readonly scheduler: QueryScheduler;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: GameQueriesOptions) {
    this.scheduler = new QueryScheduler({
      clock: options.clock ?? realClock,
      query: options.query ?? gamedigQuery(),
      timeoutMs: options.timeoutMs,
      concurrency: options.concurrency,
      failuresBeforeNotice: FAILURES_BEFORE_NOTICE,
      firstDelayMs: FIRST_DELAY_MS,
      onStreak: (id, status) => this.reportStreak(id, status),
      onPermanent: (id, message) => this.reportPermanent(id, message),
    });
  }

  /** Follows state changes, then picks up servers already running (boot reconciliation emits no event for them). */
  start(): void {
    this.unsubscribe ??= this.options.bus.subscribe((event) => {
      if (event.serverId === undefined) return;
      if (event.event === 'server_deleted') this.scheduler.unwatch(event.serverId);
      else if (event.event === 'server_status_changed') {
        if (event.data.currentStatus === 'running') this.follow(event.serverId);
        else this.scheduler.unwatch(event.serverId);
      }
    });
    for (const server of this.options.registry.list()) if (server.state === 'running') this.follow(server.id);
  }

  status(serverId: string): QueryStatus | undefined {
    return this.scheduler.status(serverId);
  }

  players(serverId: string): number {
    return this.scheduler.players(serverId);
  }

  get pending(): { timers: number; queued: number; active: number } {
    return this.scheduler.pending;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.scheduler.close();
  }

  private follow(serverId: string): void {
    const server = this.options.registry.get(serverId);
    if (!server?.spec.query || server.deleted) return;
    this.scheduler.watch(serverId, () => planFor(server.spec, this.options.defaultIp));
  }

  private reportStreak(serverId: string, status: QueryStatus): void {
    const server = this.options.registry.get(serverId);
    if (!server) return;
    const message = `game query failed ${status.failures} times in a row: ${status.error}`;
    server.log.warn({ failures: status.failures, error: status.error }, 'game query failing');
    server.console.append('agent', [message]);
    this.options.bus.publish('daemon_message', serverId, {
      level: 'warning',
      code: 'query_failed',
      message,
      failures: status.failures,
    });
  }

  /** A query that can never work is a configuration error: it shows in get_server_status' lastError. */
  private reportPermanent(serverId: string, message: string): void {
    const server = this.options.registry.get(serverId);
    if (!server) return;
    server.lastError = { action: 'query', code: 'INVALID_PAYLOAD', message, at: new Date().toISOString() };
    server.log.warn({ error: message }, 'game query cannot run');
    server.console.append('agent', [`game query failed: ${message}`]);
    this.options.bus.publish('daemon_message', serverId, {
      level: 'warning',
      code: 'query_failed',
      message: `game query failed: ${message}`,
    });
  }
}

const WILDCARDS: Record<string, string> = { '0.0.0.0': '127.0.0.1', '::': '::1', '': '127.0.0.1' };

/**
 * The published host port the query goes to, on the address Docker bound it to. A wildcard binding is reached on
 * loopback from the agent (docker-proxy listens there for both TCP and UDP), so the query never leaves the host.
 */
export function planFor(spec: ServerSpec, defaultIp: string): QueryPlan | undefined {
  const query = spec.query;
  if (!query) return undefined;
  // resolveStartup is the one rule for a server's ports (payload ports, else a numeric SERVER_PORT).
  const { ports } = resolveStartup(spec, { ip: defaultIp, timezone: 'UTC' });
  const port = query.port ?? ports[0]?.port;
  if (port === undefined) throw new PermanentQueryError('no port to query: publish a port or set query.port');
  const ip = ports.find((p) => p.port === port)?.ip ?? defaultIp;
  return {
    target: { type: query.type, host: WILDCARDS[ip] ?? ip, port },
    intervalMs: query.intervalSeconds * 1000,
  };
}
