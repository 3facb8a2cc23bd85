import type { Logger } from 'pino';

/**
 * Boot reconciliation with Docker (PROTOCOL.md §7 "At boot"), retried whenever the Engine becomes reachable:
 * the agent serves /health and refuses Docker work until one attempt has succeeded. At most one attempt runs at a
 * time; a trigger while one runs joins it; after success triggers do nothing.
 */
export type BootState = 'waiting' | 'booting' | 'booted' | 'closed';

export class BootLoop {
  private stateValue: BootState = 'waiting';
  private running: Promise<void> | undefined;

  constructor(
    private readonly attempt: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  get state(): BootState {
    return this.stateValue;
  }

  /** Starts an attempt unless one runs or boot is done; resolves when that attempt has ended. */
  trigger(): Promise<void> {
    if (this.stateValue === 'booted' || this.stateValue === 'closed') return Promise.resolve();
    this.running ??= (async () => {
      this.stateValue = 'booting';
      try {
        await this.attempt();
        if (this.stateValue === 'booting') this.stateValue = 'booted';
      } catch (err) {
        if (this.stateValue === 'booting') this.stateValue = 'waiting';
        this.log.error({ err }, 'boot reconciliation failed; retrying when Docker is reachable');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** No attempt starts after this (shutdown); one in progress runs to its end. */
  close(): void {
    this.stateValue = 'closed';
  }

  /** Waits for an attempt in progress (shutdown must not tear things down under it). */
  async settled(): Promise<void> {
    await this.running;
  }
}
