import type { Logger } from 'pino';
import type { ServerContext } from '../servers/context.js';
import type { Server } from '../servers/server.js';
import { paced } from '../util/paced.js';
import type { ServerMetrics } from './server-metrics.js';

/**
 * Servers sampled between two turns of the event loop. Each sample is five synchronous procfs/cgroup reads; with
 * 200 servers on a loaded 2-core machine a group of 8 held the loop 30-45 ms (--cpu-prof), about the whole
 * list_servers p99 budget, where 2 hold it for about a quarter of that.
 */
const SAMPLES_PER_TURN = 2;
/** The groups of one tick are spread over this part of the interval, so a tick never runs into the next one. */
const SPREAD_OF_INTERVAL = 0.5;

/**
 * Publishes resource_update (ephemeral: no seq, never replayed) every `intervalMs` for each running server that
 * somebody is subscribed to. Nobody watching means no sampling at all.
 */
export class StatsPusher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly ctx: Pick<ServerContext, 'registry' | 'bus'>,
    private readonly metrics: ServerMetrics,
    private readonly wanted: (serverId: string) => boolean,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.busy) return; // a slow Engine must not stack ticks
    this.busy = true;
    try {
      const due = this.ctx.registry.list().filter((s) => s.state === 'running' && this.wanted(s.id));
      // A few at a time, spread over half the interval: each sample's cgroup reads are synchronous, and 200
      // servers sampled in one burst held every request behind them (issue 13: status p99 while sampling).
      const samples = await paced(due, SAMPLES_PER_TURN, this.intervalMs * SPREAD_OF_INTERVAL, (server) =>
        this.publishSample(server),
      );
      await Promise.all(samples);
    } finally {
      this.busy = false;
    }
  }

  private async publishSample(server: Server): Promise<void> {
    try {
      this.ctx.bus.publish('resource_update', server.id, { ...(await this.metrics.sample(server)) });
    } catch (err) {
      this.log.debug({ err, serverId: server.id }, 'resource sample failed');
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
