import type { Logger } from 'pino';
import type { ServerContext } from '../servers/context.js';
import type { ServerMetrics } from './server-metrics.js';

/**
 * Publishes resource_update (ephemeral: no seq, never replayed) every `intervalMs` for each running server that
 * somebody is subscribed to. Nobody watching means no sampling at all.
 */
export class StatsPusher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly ctx: ServerContext,
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
      await Promise.all(
        due.map(async (server) => {
          try {
            this.ctx.bus.publish('resource_update', server.id, { ...(await this.metrics.sample(server)) });
          } catch (err) {
            this.log.debug({ err, serverId: server.id }, 'resource sample failed');
          }
        }),
      );
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
