import { findServerContainer } from './container.js';
import type { ServerContext } from './context.js';
import { CrashBudget } from './crash-budget.js';
import type { PowerController } from './power.js';
import type { Server } from './server.js';

/**
 * Classifies exits the agent did not cause (PROTOCOL.md §7): a non-zero code or an OOM kill is `crashed`
 * (and may be restarted within a budget), a clean exit is `offline` with reason `exited`.
 */
export class ExitHandler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly crashes: CrashBudget;

  constructor(
    private readonly ctx: Pick<ServerContext, 'config' | 'runtime' | 'bus'>,
    private readonly power: PowerController,
    now: () => number = Date.now,
  ) {
    const { servers } = ctx.config;
    this.crashes = new CrashBudget(() => ({ max: servers.autoRestartMax, windowMs: servers.autoRestartWindowMs }), now);
  }

  /** Inspects the server's container and settles its state if the process is gone. */
  async check(server: Server): Promise<void> {
    if (server.expectingExit || server.deleted) return;
    if (server.state !== 'running' && server.state !== 'starting') return;
    const container = await findServerContainer(this.ctx.runtime, server);
    const status = container ? await this.ctx.runtime.status(container.id) : undefined;
    // A die event can arrive after a new start: the container runs again, so the event was stale.
    if (status?.running) return;
    if (server.expectingExit || (server.state !== 'running' && server.state !== 'starting')) return;
    server.console.detach();
    const exitCode = status?.exitCode ?? -1;
    const oomKilled = status?.oomKilled ?? false;
    if (exitCode === 0 && !oomKilled) {
      await server.transition('offline', { reason: 'exited', exitCode, oomKilled });
      return;
    }
    await server.transition('crashed', { reason: 'crash', exitCode, oomKilled });
    const tail = server.console.lines(10);
    this.ctx.bus.publish('daemon_message', server.id, {
      level: 'error',
      message: `server crashed (exit code ${exitCode}${oomKilled ? ', out of memory' : ''})`,
      exitCode,
      oomKilled,
      lastLines: tail,
    });
    this.maybeRestart(server);
  }

  /** Automatic restarts used in the current window, and whether the budget is spent (get_server_status). */
  budget(serverId: string): { used: number; max: number; exhausted: boolean } {
    return this.crashes.status(serverId);
  }

  private maybeRestart(server: Server): void {
    const { autoRestart, autoRestartMax, autoRestartWindowMs } = this.ctx.config.servers;
    const policy = server.spec.restartPolicy ?? (autoRestart ? 'on_crash' : 'off');
    if (policy === 'off') return;
    const decision = this.crashes.crashed(server.id);
    if (!decision.restart) {
      server.notice(
        'error',
        `crashed ${decision.crashes} times within ${Math.round(autoRestartWindowMs / 60_000)} min; not restarting again`,
      );
      return;
    }
    const { delayMs, attempt } = decision;
    server.notice('warning', `restarting after crash in ${delayMs / 1000} s (${attempt}/${autoRestartMax})`);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (server.deleted || server.state !== 'crashed') return;
      void this.power
        .start(server, 'crash_restart')
        .then(() => server.log.info('restarted after crash'))
        .catch((err) => server.log.warn({ err }, 'automatic restart failed'));
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  forget(serverId: string): void {
    this.crashes.forget(serverId);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
