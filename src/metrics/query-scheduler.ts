/**
 * When and how game servers are queried (PROTOCOL.md §4.6 "Game queries"), with no I/O of its own: the clock,
 * the timers and the query itself are injected, so the rules below are tested without a game server.
 *
 * - One timer per watched server, re-armed one interval after each query ends: a slow server can never have
 *   two queries in flight, and a query never runs on the metrics path (get_server_metrics reads `players`).
 * - At most `concurrency` queries run at once across all servers; the others wait in a FIFO. Each server is in
 *   it at most once, so the queue is bounded by the number of watched servers.
 * - `failuresBeforeNotice` failures in a row call `onStreak` once; a success resets the count and the notice.
 *   A permanent failure (an unknown query type, no port to query) calls `onPermanent` and stops querying.
 */

export interface QueryTarget {
  /** A game or protocol id of the query library. */
  type: string;
  host: string;
  port: number;
}

export interface QueryAnswer {
  players: number;
  maxPlayers: number;
  name?: string | undefined;
  map?: string | undefined;
  latencyMs: number;
}

/** What get_server_status shows as `query` (PROTOCOL.md §4.6). */
export interface QueryStatus {
  online: boolean;
  players: number;
  maxPlayers: number;
  name?: string;
  map?: string;
  /** Null when the last query failed. */
  latencyMs: number | null;
  /** When the last query ended (ISO). */
  at: string;
  /** Why the last query failed, and how many have failed in a row. */
  error?: string;
  failures?: number;
}

/** A failure no retry can fix; the server is not queried again until its next start. */
export class PermanentQueryError extends Error {
  override name = 'PermanentQueryError';
}

export type QueryFn = (target: QueryTarget, timeoutMs: number) => Promise<QueryAnswer>;

export interface SchedulerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The plan for one server, read before every query so a spec changed while running applies at the next one;
 * undefined (the query was removed from the spec) ends the watch quietly.
 */
export interface QueryPlan {
  target: QueryTarget;
  intervalMs: number;
}

export interface SchedulerOptions {
  clock: SchedulerClock;
  query: QueryFn;
  timeoutMs: number;
  concurrency: number;
  failuresBeforeNotice: number;
  /** The delay before the first query of a run; a game usually needs a moment after `running` to answer. */
  firstDelayMs: number;
  onStreak(serverId: string, status: QueryStatus): void;
  onPermanent(serverId: string, message: string): void;
}

interface Entry {
  serverId: string;
  /** Throws PermanentQueryError when the server cannot be queried at all. */
  plan: () => QueryPlan | undefined;
  timer: unknown;
  waiting: boolean;
  closed: boolean;
  failures: number;
  notified: boolean;
  last: QueryStatus | undefined;
}

export const realClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class QueryScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private active = 0;

  constructor(private readonly options: SchedulerOptions) {}

  /** Starts querying a server (no-op while it is already watched). */
  watch(serverId: string, plan: () => QueryPlan | undefined): void {
    if (this.entries.has(serverId)) return;
    const entry: Entry = {
      serverId,
      plan,
      timer: undefined,
      waiting: false,
      closed: false,
      failures: 0,
      notified: false,
      last: undefined,
    };
    this.entries.set(serverId, entry);
    let first = this.options.firstDelayMs;
    try {
      first = Math.min(first, plan()?.intervalMs ?? first);
    } catch {
      // A server that cannot be queried fails on its first turn, where the failure is recorded.
    }
    this.arm(entry, first);
  }

  /** Stops querying a server and forgets its answers; a query in flight is discarded when it ends. */
  unwatch(serverId: string): void {
    const entry = this.entries.get(serverId);
    if (!entry) return;
    entry.closed = true;
    this.options.clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.waiting) this.queue.splice(this.queue.indexOf(entry), 1);
    this.entries.delete(serverId);
  }

  isWatched(serverId: string): boolean {
    return this.entries.has(serverId);
  }

  status(serverId: string): QueryStatus | undefined {
    return this.entries.get(serverId)?.last;
  }

  /** The last answer's player count; 0 when the server was never answered or its last query failed. */
  players(serverId: string): number {
    const last = this.entries.get(serverId)?.last;
    return last?.online ? last.players : 0;
  }

  /** Timers armed plus queries waiting or running: what a leak would show. */
  get pending(): { timers: number; queued: number; active: number } {
    let timers = 0;
    for (const entry of this.entries.values()) if (entry.timer !== undefined) timers++;
    return { timers, queued: this.queue.length, active: this.active };
  }

  close(): void {
    for (const id of [...this.entries.keys()]) this.unwatch(id);
  }

  private arm(entry: Entry, ms: number): void {
    entry.timer = this.options.clock.setTimeout(() => {
      entry.timer = undefined;
      this.turn(entry);
    }, ms);
  }

  private turn(entry: Entry): void {
    if (entry.closed) return;
    if (this.active >= this.options.concurrency) {
      entry.waiting = true;
      this.queue.push(entry);
      return;
    }
    void this.execute(entry);
  }

  private async execute(entry: Entry): Promise<void> {
    this.active++;
    let outcome: { answer: QueryAnswer } | { error: unknown } | undefined;
    let intervalMs: number | undefined;
    try {
      const plan = entry.plan();
      if (plan) {
        intervalMs = plan.intervalMs;
        outcome = { answer: await this.withTimeout(this.options.query(plan.target, this.options.timeoutMs)) };
      }
    } catch (error) {
      outcome = { error };
    } finally {
      this.active--;
      this.pump();
    }
    if (entry.closed) return;
    if (!outcome) {
      this.unwatch(entry.serverId);
      return;
    }
    const at = new Date(this.options.clock.now()).toISOString();
    if ('answer' in outcome) {
      this.succeed(entry, outcome.answer, at);
    } else if (outcome.error instanceof PermanentQueryError) {
      this.fail(entry, outcome.error.message, at);
      entry.notified = true;
      this.options.onPermanent(entry.serverId, outcome.error.message);
      return; // no timer: nothing to retry
    } else {
      this.fail(entry, messageOf(outcome.error), at);
      if (entry.failures >= this.options.failuresBeforeNotice && !entry.notified && entry.last) {
        entry.notified = true;
        this.options.onStreak(entry.serverId, entry.last);
      }
    }
    this.arm(entry, intervalMs ?? this.options.firstDelayMs);
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.queue.length > 0) {
      const next = this.queue.shift() as Entry;
      next.waiting = false;
      void this.execute(next);
    }
  }

  private succeed(entry: Entry, answer: QueryAnswer, at: string): void {
    entry.failures = 0;
    entry.notified = false;
    entry.last = {
      online: true,
      players: clampCount(answer.players),
      maxPlayers: clampCount(answer.maxPlayers),
      ...(answer.name ? { name: answer.name.slice(0, 256) } : {}),
      ...(answer.map ? { map: answer.map.slice(0, 256) } : {}),
      latencyMs: Math.max(0, Math.round(answer.latencyMs)),
      at,
    };
  }

  private fail(entry: Entry, error: string, at: string): void {
    entry.failures++;
    entry.last = {
      online: false,
      players: 0,
      maxPlayers: entry.last?.maxPlayers ?? 0,
      latencyMs: null,
      at,
      error: error.slice(0, 512),
      failures: entry.failures,
    };
  }

  /** Our own bound on a query, in case the library's timeouts do not fire (a hung DNS lookup, a bug). */
  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    const { clock, timeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      promise.then(
        (value) => {
          clock.clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clock.clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

/** A game server reports its own counts: keep them finite, non-negative integers with a sane ceiling. */
function clampCount(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? Math.min(1_000_000, Math.max(0, Math.floor(n))) : 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
