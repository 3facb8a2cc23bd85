import type { Logger } from 'pino';
import type { AgentError } from '../errors.js';
import type { DockerRuntime } from './runtime.js';

/** `unknown` until the first ping settles: /ready then says `starting`, not `docker_unreachable`. */
export type DockerReachability = 'unknown' | 'reachable' | 'unreachable';

export interface DockerHealthOptions {
  /** Where the Engine is dialled (for the log line an operator reads first). */
  host: string;
  /** Period between pings. */
  intervalMs?: number;
  /** A ping that takes longer counts as unreachable; its request is aborted, so a hung Engine holds one socket. */
  pingTimeoutMs?: number;
}

/**
 * Keeps a cached view of the Engine's reachability so /health, /ready and /metrics answer instantly, even while
 * Docker is down or hung, and tells listeners when it changes. The first failed ping is logged too: an agent
 * started without a reachable Engine used to say nothing at all (issue 12), because "unreachable" was also the
 * initial value and only changes were logged.
 */
export class DockerHealth {
  private stateValue: DockerReachability = 'unknown';
  version: string | undefined;
  /** Why the last ping failed (the socket's ENOENT, EACCES, ECONNREFUSED, or a time-out). */
  lastError: AgentError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly listeners = new Set<(reachable: boolean) => void>();
  private readonly intervalMs: number;
  private readonly pingTimeoutMs: number;

  constructor(
    private readonly runtime: DockerRuntime,
    private readonly log: Logger,
    private readonly options: DockerHealthOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 3_000;
  }

  get state(): DockerReachability {
    return this.stateValue;
  }

  get reachable(): boolean {
    return this.stateValue === 'reachable';
  }

  onChange(listener: (reachable: boolean) => void): void {
    this.listeners.add(listener);
  }

  async check(): Promise<boolean> {
    let error: AgentError | undefined;
    const ok = await this.runtime.ping(this.pingTimeoutMs, (err) => {
      error = err;
    });
    this.lastError = ok ? undefined : error;
    const next: DockerReachability = ok ? 'reachable' : 'unreachable';
    const changed = next !== this.stateValue;
    const first = this.stateValue === 'unknown';
    this.stateValue = next;
    // The listeners (the boot) do not wait for the version, which only logs and status pages read: asked before
    // them, it was one more Engine round trip before /ready (0.1-0.4 s on a loaded Engine, issue 13).
    if (changed) for (const listener of this.listeners) listener(ok);
    if (ok && !this.version) {
      const v = await this.runtime.version().catch(() => undefined);
      this.version = v?.version;
    }
    if (changed) {
      const fields = { dockerHost: this.options.host, version: this.version };
      if (ok) this.log.info(fields, first ? 'Docker Engine reachable' : 'Docker Engine reachable again');
      else
        this.log.error(
          { ...fields, code: error?.code, reason: error?.message },
          first
            ? 'Docker Engine unreachable at start; serving /health and refusing Docker work until it answers'
            : 'Docker Engine unreachable; servers keep their last known state until it returns',
        );
    }
    return ok;
  }

  start(): void {
    const tick = () => {
      void this.check()
        .catch(() => false)
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.intervalMs);
          this.timer.unref();
        });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
