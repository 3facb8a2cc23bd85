import type { ServerContext } from './context.js';

const MIB = 1024 * 1024;

/**
 * Docker cannot enforce a disk limit, so the agent measures each limited server at least every `intervalMs`
 * and warns once per crossing through a daemon_message (PROTOCOL.md §4.1 `disk`). File-API writes are refused
 * beyond the limit by the file sandbox, which reads the same cached figures.
 */
export class DiskWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly over = new Set<string>();
  private running = false;

  constructor(
    private readonly ctx: Pick<ServerContext, 'registry' | 'disk'>,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async sweep(): Promise<void> {
    if (this.running) return; // a slow disk must not stack sweeps
    this.running = true;
    try {
      for (const server of this.ctx.registry.list()) {
        if (server.deleted) continue;
        const figure = await this.ctx.disk.refresh(server.id, server.dataDir).catch(() => undefined);
        const limitMb = server.spec.limits.disk;
        if (!figure || limitMb === 0) continue;
        const usedMb = figure.bytes / MIB;
        if (usedMb > limitMb && !this.over.has(server.id)) {
          this.over.add(server.id);
          server.notice('warning', `disk use ${usedMb.toFixed(0)} MiB exceeds the limit of ${limitMb} MiB`);
        } else if (usedMb <= limitMb) {
          this.over.delete(server.id);
        }
      }
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
