import type { Logger } from 'pino';
import type { ServerContext } from '../servers/context.js';
import type { ServerMetrics } from './server-metrics.js';

/** Servers sampled between two turns of the event loop. */
const SAMPLES_PER_TURN = 8;

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
      // A few at a time with a turn of the event loop between: each sample's cgroup reads are synchronous, and
      // 200 servers sampled in one burst held every request behind them (issue 13: status p99 while sampling).
      for (let i = 0; i < due.length; i += SAMPLES_PER_TURN) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve));
        await Promise.all(
          due.slice(i, i + SAMPLES_PER_TURN).map(async (server) => {
            try {
              this.ctx.bus.publish('resource_update', server.id, { ...(await this.metrics.sample(server)) });
            } catch (err) {
              this.log.debug({ err, serverId: server.id }, 'resource sample failed');
            }
          }),
        );
      }
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
