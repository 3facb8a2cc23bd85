import type { Semaphore } from '../util/semaphore.js';
import { type InstallContext, runInstall } from './install.js';
import type { InstallLogs } from './install-log.js';
import type { Server } from './server.js';

/**
 * Runs installs in the background under each server's lock, a few at a time (the create slots), and retries the
 * ones a Docker outage interrupted on their own: the panel never re-sends create_server.
 */
export class Installs {
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly ctx: InstallContext,
    private readonly logs: InstallLogs,
    private readonly slots: Semaphore,
  ) {}

  /** Starts an install under the server's `install` lock; the outcome settles the state. */
  begin(server: Server, attempt = 0): void {
    server.lock.run('install', (signal) => this.step(server, signal, attempt));
  }

  /**
   * One install attempt, under the caller's lock (create's `install`, or `reinstall`): its output is recorded for
   * get_install_log, and the outcome settles the state.
   */
  async step(server: Server, signal: AbortSignal, attempt = 0): Promise<void> {
    // Waits for a place in line first: a panel filling a node sends creates faster than the Engine takes them.
    const outcome = await this.slots
      .run(async () => {
        const record = await this.logs.begin(server.id);
        return runInstall(this.ctx, server, signal, record).finally(() => record.finish());
      }, signal)
      .catch((err: unknown) => {
        if (signal.aborted) return 'failed' as const;
        throw err;
      });
    if (server.deleted || signal.aborted) return;
    if (outcome === 'retry') {
      this.retryLater(server, attempt);
      return;
    }
    const ok = outcome === 'ok';
    await server.transition(ok ? 'offline' : 'install_failed', { reason: ok ? 'install_ok' : 'install_failed' });
  }

  /** Docker is away: try again with back-off (2 s doubling to 30 s) until it returns or the server goes. */
  private retryLater(server: Server, attempt: number): void {
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        if (server.state === 'installing' && !server.lock.current && !server.deleted) this.begin(server, attempt + 1);
      },
      Math.min(30_000, 2000 * 2 ** attempt),
    );
    timer.unref();
    this.retryTimers.add(timer);
  }

  close(): void {
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
  }
}
