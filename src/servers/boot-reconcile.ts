import type { ManagedContainer } from '../docker/runtime.js';
import type { Semaphore } from '../util/semaphore.js';
import type { ServerContext } from './context.js';
import type { PowerController } from './power.js';
import type { Server } from './server.js';
import { isActive } from './state.js';

/** What boot reconciliation reads and whom it hands the work that waits. */
export interface BootReconcileDeps {
  ctx: Pick<ServerContext, 'runtime' | 'registry' | 'log' | 'config'>;
  power: PowerController;
  /** Runs an interrupted install again (ServerManager, under the server's lock). */
  reinstall: (server: Server) => void;
  /** Boot restores take a create slot each and hold it until the start settles. */
  createSlots: Semaphore;
  /** Reattaches of running servers in flight at once (servers.reattachConcurrency). */
  reattachSlots: Semaphore;
  /** The container list, asked for by the boot beside its other calls (one Engine round trip less before /ready). */
  managed: ManagedContainer[];
}

/**
 * Boot reconciliation (PROTOCOL.md §7 "At boot"): one container list decides every state before /ready; the
 * per-server work that can wait (inspect, log tail and attach of running servers, boot restores) runs after, a few
 * at a time. Waiting on it made /ready take seconds per dozen servers: three Engine calls each, one server after
 * another. Resolves when every state is settled, with the function that starts the work that waits.
 */
export async function reconcileAtBoot(deps: BootReconcileDeps): Promise<() => void> {
  const { ctx, managed } = deps;
  const byServer = new Map(managed.map((c) => [c.serverId, c]));
  const later: { server: Server; job: () => Promise<void> }[] = [];
  await Promise.all(
    ctx.registry.list().map(async (server) => {
      try {
        const job = await reconcileOne(deps, server, byServer.get(server.id));
        if (job) later.push({ server, job });
      } catch (err) {
        server.log.error({ err }, 'boot reconciliation failed for this server');
      }
    }),
  );
  for (const c of managed) {
    if (!ctx.registry.get(c.serverId)) {
      ctx.log.warn({ containerId: c.id, serverId: c.serverId }, 'container labelled as ours has no spec; left alone');
    }
  }
  return () => {
    for (const { server, job } of later) {
      void job().catch((err) => server.log.error({ err }, 'boot reconciliation failed for this server'));
    }
  };
}

/** Settles the state from the listed container; returns the work that may run after /ready. */
async function reconcileOne(
  deps: BootReconcileDeps,
  server: Server,
  container: ManagedContainer | undefined,
): Promise<(() => Promise<void>) | undefined> {
  const persisted = server.state;
  if (persisted === 'installing') {
    server.log.info('install was interrupted; running it again');
    deps.reinstall(server);
    return undefined;
  }
  if ((container?.state === 'running' || container?.state === 'paused') && container) {
    return adoptRunning(deps, server, container.id);
  }
  // Not running (stopped or missing container).
  const wanted = server.pending?.action === 'start' || server.pending?.action === 'restart';
  const wasUp = persisted === 'running' || persisted === 'starting';
  if (persisted === 'stopping') {
    server.pending = undefined;
    await server.transition('offline', { reason: 'requested', force: true });
    return undefined;
  }
  if (wanted || (wasUp && deps.ctx.config.servers.bootRestore)) {
    await server.transition('offline', { reason: 'boot_restore', force: true });
    // Through the create slots, and holding one until the start settles: 200 restores at once are the burst
    // that made the Engine answer starts after their deadline.
    return () =>
      deps.createSlots.run(async () => {
        if (server.deleted || server.lock.current || server.state !== 'offline') return;
        await deps.power.start(server, 'boot_restore');
        await server.lock.settled();
      });
  }
  if (wasUp) await server.transition('offline', { reason: 'exited', force: true });
  return undefined;
}

/** A container that runs: the server is running (or still stopping), and is reattached after /ready. */
async function adoptRunning(
  deps: BootReconcileDeps,
  server: Server,
  containerId: string,
): Promise<() => Promise<void>> {
  const persisted = server.state;
  if (persisted !== 'running') {
    await server.transition(persisted === 'stopping' ? 'stopping' : 'running', { force: true, reason: 'boot_restore' });
  }
  const pending = server.pending;
  const resume = pending?.action === 'stop' || persisted === 'stopping';
  return () =>
    deps.reattachSlots.run(async () => {
      await reattach(deps.ctx, server, containerId);
      // After the reattach, so a stop command can be written to the console again.
      if (resume) {
        deps.power.resumeStop(server, { signal: pending?.signal ?? 'SIGTERM', timeoutS: pending?.timeoutS ?? 30 });
      }
    });
}

/** Reattaches a running server after a restart: its run's facts, the log tail, then stdin and output. */
async function reattach(ctx: Pick<ServerContext, 'runtime'>, server: Server, containerId: string): Promise<void> {
  if (server.deleted || !isActive(server.state) || server.console.attached) return;
  const status = await ctx.runtime.status(containerId);
  // It exited meanwhile: the die event (or the next reconcile) classifies that.
  if (!status?.running || server.deleted || !isActive(server.state) || server.console.attached) return;
  server.startedAt = status.startedAt;
  server.running = { containerId, pid: status.pid };
  server.console.preload(await ctx.runtime.logTail(containerId, 500).catch(() => Buffer.alloc(0)));
  if (!server.console.attached) server.console.attach(await ctx.runtime.attach(containerId));
}
