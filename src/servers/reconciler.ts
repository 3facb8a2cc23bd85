import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ManagedContainer } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import type { ServerContext } from './context.js';
import type { ExitHandler } from './exits.js';
import type { PowerController } from './power.js';
import type { Server } from './server.js';
import { isActive } from './state.js';

/** Servers checked between two turns of the event loop in a sweep. */
const SERVERS_PER_TURN = 16;

/** Container states in which the process exists (a paused container is still running to the Engine). */
function isUp(container: ManagedContainer | undefined): boolean {
  return container?.state === 'running' || container?.state === 'paused';
}

/**
 * Whether the agent already follows this run: `running`, or `starting` with the container known (waiting for the
 * startupDone line). A `running` server whose reattach after a restart is still queued counts too.
 */
function follows(server: Server, containerId: string): boolean {
  if (server.state === 'running') return server.running === undefined || server.running.containerId === containerId;
  return server.state === 'starting' && server.running?.containerId === containerId;
}

/**
 * Keeps every server's state in line with its container when the events stream alone is not enough (issue 13: at
 * 200 servers starts answered after the call's deadline left 181 servers `offline` whose containers ran, and
 * nothing corrected them). One container list per sweep, every `servers.reconcileIntervalMs` and after the events
 * stream reconnects; only a server whose state disagrees costs an inspect. A server in a power action is its
 * holder's business and is skipped.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /**
   * Servers seen `starting` with a container that was created but not started: the Engine may still be working on
   * a start it did not answer, so the first sighting waits for the next sweep before deciding.
   */
  private readonly unstarted = new Set<string>();

  constructor(
    private readonly ctx: Pick<ServerContext, 'config' | 'log' | 'runtime' | 'registry'>,
    private readonly exits: ExitHandler,
    private readonly power: PowerController,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.ctx.config.servers.reconcileIntervalMs);
    this.timer.unref();
  }

  /** One pass over every known server; a pass already running is joined, not doubled. */
  sweep(): Promise<void> {
    this.sweeping ??= this.pass()
      .catch((err) => this.ctx.log.warn({ err }, 'reconcile with Docker failed; retrying at the next interval'))
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  /** A `start` event: a container the agent did not see start (or whose start call timed out) is followed. */
  onStart(server: Server, containerId: string): void {
    if (follows(server, containerId)) return;
    void this.power
      .adoptRunning(server, containerId)
      .catch((err: unknown) => server.log.warn({ err }, 'could not follow a container that started'));
  }

  private async pass(): Promise<void> {
    const managed = await this.ctx.runtime.listManaged();
    const byServer = new Map(managed.map((c) => [c.serverId, c]));
    const servers = this.ctx.registry.list();
    for (const [i, server] of servers.entries()) {
      // A server that agrees with its container settles without any I/O, so without this the whole pass is one
      // turn of the event loop: 30 ms with 200 servers on a loaded machine (--cpu-prof), requests waiting behind it.
      if (i > 0 && i % SERVERS_PER_TURN === 0) await nextTurn();
      try {
        await this.check(server, byServer.get(server.id));
      } catch (err) {
        server.log.warn({ err }, 'could not reconcile this server with its container');
      }
    }
  }

  private async check(server: Server, container: ManagedContainer | undefined): Promise<void> {
    const busy = server.deleted || server.lock.current !== undefined || server.expectingExit !== undefined;
    if (busy || !container || container.state !== 'created') this.unstarted.delete(server.id);
    if (busy) return;
    if (isUp(container) && container) {
      if (!follows(server, container.id)) await this.power.adoptRunning(server, container.id);
      return;
    }
    if (!isActive(server.state)) return;
    if (server.state === 'stopping') {
      // A stop whose ladder failed (a timed-out signal) while the container went away after all.
      server.console.detach();
      server.pending = undefined;
      await server.transition('offline', { reason: 'requested' });
      return;
    }
    if (container?.state === 'created') {
      if (!this.unstarted.has(server.id)) {
        this.unstarted.add(server.id);
        return;
      }
      this.unstarted.delete(server.id);
      server.pending = undefined;
      server.reportFailure(
        'start',
        new AgentError('DOCKER_ERROR', 'the Engine did not start the container (it is still only created)'),
      );
      await server.transition('offline', { reason: 'crash' });
      return;
    }
    await this.exits.check(server);
  }

  /** Stops the timer. A pass in progress is not awaited: against a hung Engine it would hold shutdown. */
  close(): void {
    clearInterval(this.timer);
  }
}
