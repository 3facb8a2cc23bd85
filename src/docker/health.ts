import type { Logger } from 'pino';
import type { DockerRuntime } from './runtime.js';

/**
 * Keeps a cached view of the Engine's reachability so /health and /ready answer instantly, even while Docker
 * is down, and tells listeners when it comes back.
 */
export class DockerHealth {
  reachable = false;
  version: string | undefined;
  cgroupVersion: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(reachable: boolean) => void>();

  constructor(
    private readonly runtime: DockerRuntime,
    private readonly log: Logger,
    private readonly intervalMs = 5_000,
  ) {}

  onChange(listener: (reachable: boolean) => void): void {
    this.listeners.add(listener);
  }

  async check(): Promise<boolean> {
    const ok = await this.runtime.ping();
    if (ok && !this.version) {
      const v = await this.runtime.version().catch(() => undefined);
      this.version = v?.version;
      this.cgroupVersion = v?.cgroupVersion;
    }
    if (ok !== this.reachable) {
      this.reachable = ok;
      if (ok) this.log.info({ version: this.version }, 'Docker Engine reachable');
      else this.log.error('Docker Engine unreachable; servers keep their last known state until it returns');
      for (const listener of this.listeners) listener(ok);
    }
    return ok;
  }

  start(): void {
    const tick = () => {
      void this.check()
        .catch(() => false)
        .finally(() => {
          this.timer = setTimeout(tick, this.intervalMs);
          this.timer.unref();
        });
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
