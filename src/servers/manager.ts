import { rm } from 'node:fs/promises';
import path from 'node:path';
import { dataDirLayout } from '../config/data-dir.js';
import type { ContainerEvent, ManagedContainer } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import { Semaphore } from '../util/semaphore.js';
import { ServerConsole } from './console.js';
import { ensureServerContainer } from './container.js';
import type { ServerContext } from './context.js';
import { ExitHandler } from './exits.js';
import { runInstall } from './install.js';
import { InstallLogs } from './install-log.js';
import { PortPool } from './port-pool.js';
import { awaitSettling, PowerController } from './power.js';
import { Reconciler } from './reconciler.js';
import { Server } from './server.js';
import { type CreateServerPayload, resolveStartup, type ServerSpec, specFromPayload } from './spec.js';
import { isActive, type ServerState } from './state.js';
import type { PersistedServer } from './store.js';

export interface CreateResult {
  serverId: string;
  status: ServerState;
  warnings: string[];
  unresolved: string[];
}

/**
 * The server domain's entry point for the command handlers: create, delete, boot reconciliation and the
 * Docker events that move states. Power actions live in power.ts and take the same context.
 */
export class ServerManager {
  readonly exits: ExitHandler;
  private watcher: { close(): void } | undefined;
  private reconciled = false;
  /** Installs interrupted by a Docker outage retry on their own: the panel never re-sends create_server. */
  private readonly retryTimers = new Set<NodeJS.Timeout>();

  /** The ports pool and the node-wide port check; creates and updates place their ports through it, one at a time. */
  readonly ports: PortPool;
  /** Each server's last install output (get_install_log). */
  readonly installLogs: InstallLogs;
  /** Corrects states the events stream missed, against one container list (issue 13). */
  readonly reconciler: Reconciler;
  /** Installs and boot restores in flight at once (servers.createConcurrency); the others wait in line. */
  private readonly createSlots: Semaphore;
  /** Reattaches after an agent restart in flight at once (servers.reattachConcurrency). */
  private readonly reattachSlots: Semaphore;

  /** The one owner of power actions; actions, crash restarts, boot recovery and the reconciler use it. */
  readonly power: PowerController;

  constructor(readonly ctx: ServerContext) {
    this.power = new PowerController({
      runtime: ctx.runtime,
      ensureContainer: (server) => ensureServerContainer(ctx, server),
      // Read at each start: main sets the hook once the file access it needs exists.
      beforeStart: (server) => ctx.beforeStart?.(server) ?? Promise.resolve(),
      signalGraceMs: ctx.config.servers.signalGraceMs,
    });
    this.exits = new ExitHandler(ctx, this.power);
    this.ports = new PortPool(ctx.config.allocations.pool, ctx.config.servers.defaultIp);
    this.installLogs = new InstallLogs(ctx.config.dataDir, ctx.config.servers.installLogMaxBytes, ctx.bus, ctx.log);
    this.reconciler = new Reconciler(ctx, this.exits, this.power);
    this.createSlots = new Semaphore(ctx.config.servers.createConcurrency);
    this.reattachSlots = new Semaphore(ctx.config.servers.reattachConcurrency);
  }

  /** The specs of every server but `id`: the ports they publish are taken. */
  otherSpecs(id: string): ServerSpec[] {
    return this.ctx.registry
      .list()
      .filter((s) => s.id !== id && !s.deleted)
      .map((s) => s.spec);
  }

  get ready(): boolean {
    return this.reconciled;
  }

  dataDirFor(id: string): string {
    return path.join(dataDirLayout(this.ctx.config.dataDir).volumes, id);
  }

  private instantiate(record: PersistedServer): Server {
    const { ctx } = this;
    const id = record.spec.id;
    return new Server(record, {
      bus: ctx.bus,
      console: new ServerConsole({
        serverId: id,
        bus: ctx.bus,
        historyLines: record.spec.consoleBufferLines ?? ctx.config.servers.consoleHistoryLines,
        historyBytes: ctx.config.servers.consoleHistoryBytes,
        floodLinesPerSecond: ctx.config.servers.consoleFloodLinesPerSecond,
        maxBytesPerSecond: ctx.config.servers.consoleMaxBytesPerSecond,
      }),
      persist: (r) => ctx.store.save(r),
      aliases: () => ctx.registry.aliasesOf(id),
      log: ctx.log.child({ serverId: id }),
      dataDir: this.dataDirFor(id),
    });
  }

  /**
   * Validates, persists the spec and sets `installing` before replying; the install runs in the background
   * (PROTOCOL.md §4.1). Re-creating a known id replaces its spec.
   */
  create(id: string, payload: CreateServerPayload): Promise<CreateResult> {
    // Under the pool's lock from placing the ports to storing the spec: concurrent creates never share a port.
    return this.ports.serialize(() => this.createPlaced(id, payload));
  }

  private async createPlaced(id: string, payload: CreateServerPayload): Promise<CreateResult> {
    const { ctx } = this;
    const existing = ctx.registry.find(id);
    if (existing && existing.id !== id) {
      throw new AgentError(
        'INVALID_SERVER_ID',
        `${id} is an alias of server ${existing.id}; create with the canonical id`,
      );
    }
    const max = ctx.config.servers.max;
    if (!existing && ctx.registry.size >= max) {
      throw new AgentError(
        'INSUFFICIENT_RESOURCES',
        `this node already holds ${ctx.registry.size} servers, its maximum (servers.max = ${max})`,
        { max, servers: ctx.registry.size },
      );
    }
    if (existing) await awaitSettling(existing);
    if (existing?.state === 'installing' || existing?.lock.current) {
      throw new AgentError('SERVER_BUSY', `server ${id} is busy: ${existing.lock.current ?? existing.state}`);
    }
    const spec = this.ports.place(
      specFromPayload(id, payload, new Date(), existing?.spec),
      this.otherSpecs(id),
      existing?.spec,
    );
    const resolved = resolveStartup(spec, { ip: ctx.config.servers.defaultIp, timezone: ctx.config.servers.timezone });
    if (existing && (isActive(existing.state) || existing.state === 'suspended')) {
      // A running (or suspended) server keeps running: the new spec is stored now and the container is
      // re-created from it at the next start (its spec hash no longer matches).
      existing.spec = spec;
      await existing.persist();
      return {
        serverId: id,
        status: existing.state,
        warnings: [...resolved.warnings, 'the new spec takes effect at the next start'],
        unresolved: resolved.unresolved,
      };
    }
    let server = existing;
    if (server) {
      server.spec = spec;
    } else {
      server = this.instantiate({
        version: 1,
        spec,
        state: 'installing',
        reason: undefined,
        pending: undefined,
        lastExit: undefined,
        suspended: false,
      });
      ctx.registry.add(server);
    }
    const created = server;
    if (existing) await created.transition('installing', { reason: 'requested' });
    else {
      ctx.bus.publish('server_status_changed', id, {
        aliases: created.aliases,
        previousStatus: null,
        currentStatus: 'installing',
      });
      await created.persist();
    }
    const startAfter = payload.startOnCompletion;
    this.beginInstall(created);
    if (startAfter) {
      void this.startWhenInstalled(created);
    }
    return { serverId: id, status: 'installing', warnings: resolved.warnings, unresolved: resolved.unresolved };
  }

  /** Runs the install in the background under the power lock; the outcome settles the state. */
  private beginInstall(server: Server, attempt = 0): void {
    server.lock.run('install', (signal) => this.installStep(server, signal, attempt));
  }

  /**
   * One install attempt, under the caller's lock (create's `install`, or `reinstall`): its output is recorded for
   * get_install_log, and the outcome settles the state.
   */
  async installStep(server: Server, signal: AbortSignal, attempt = 0): Promise<void> {
    // Waits for a place in line first: a panel filling a node sends creates faster than the Engine takes them.
    const outcome = await this.createSlots
      .run(async () => {
        const record = await this.installLogs.begin(server.id);
        return runInstall(this.ctx, server, signal, record).finally(() => record.finish());
      }, signal)
      .catch((err: unknown) => {
        if (signal.aborted) return 'failed' as const;
        throw err;
      });
    if (server.deleted || signal.aborted) return;
    if (outcome === 'retry') {
      // Docker is away: try again with back-off (2 s doubling to 30 s) until it returns or the server goes.
      const timer = setTimeout(
        () => {
          this.retryTimers.delete(timer);
          if (server.state === 'installing' && !server.lock.current && !server.deleted)
            this.beginInstall(server, attempt + 1);
        },
        Math.min(30_000, 2000 * 2 ** attempt),
      );
      timer.unref();
      this.retryTimers.add(timer);
      return;
    }
    const ok = outcome === 'ok';
    await server.transition(ok ? 'offline' : 'install_failed', { reason: ok ? 'install_ok' : 'install_failed' });
  }

  private async startWhenInstalled(server: Server): Promise<void> {
    await server.lock.settled();
    if (server.state === 'offline' && !server.deleted) {
      await this.power.start(server).catch((err: unknown) => server.log.warn({ err }, 'start after install failed'));
    }
  }

  /** Kills and removes the container, the data (unless keepFiles), the spec and the aliases. */
  async delete(server: Server, keepFiles: boolean): Promise<void> {
    const { ctx } = this;
    server.lock.preempt();
    server.lock.run('delete', async () => {
      try {
        for (const role of ['server', 'install'] as const) {
          const container = await ctx.runtime.findContainer(server.id, role);
          if (container) await ctx.runtime.remove(container.id);
        }
        server.deleted = true;
        server.console.close();
        if (!keepFiles) await rm(server.dataDir, { recursive: true, force: true });
        const aliases = server.aliases;
        await ctx.store.remove(server.id);
        await this.installLogs.remove(server.id);
        await ctx.registry.remove(server.id);
        this.exits.forget(server.id);
        ctx.disk.forget(server.id);
        ctx.bus.publish('server_deleted', server.id, { aliases });
        ctx.bus.forgetServer(server.id);
        server.log.info({ keepFiles }, 'server deleted');
      } catch (err) {
        server.deleted = false;
        server.reportFailure('delete', err);
      }
    });
  }

  /** Loads persisted servers and reconciles them with Docker (PROTOCOL.md §7 "At boot"). */
  async load(): Promise<void> {
    await this.ctx.registry.loadAliases();
    for (const record of await this.ctx.store.loadAll()) {
      this.ctx.registry.add(this.instantiate(record));
    }
  }

  /**
   * Boot reconciliation: one container list decides every state before /ready; the per-server work that can wait
   * (inspect, log tail and attach of running servers, boot restores) runs after, a few at a time. Waiting on it
   * made /ready take seconds per dozen servers: three Engine calls each, one server after another.
   */
  async reconcile(): Promise<void> {
    const { ctx } = this;
    const managed = await ctx.runtime.listManaged();
    const byServer = new Map(managed.map((c) => [c.serverId, c]));
    const later: { server: Server; job: () => Promise<void> }[] = [];
    await Promise.all(
      ctx.registry.list().map(async (server) => {
        try {
          const job = await this.reconcileOne(server, byServer.get(server.id));
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
    this.reconciled = true;
    for (const { server, job } of later) {
      void job().catch((err) => server.log.error({ err }, 'boot reconciliation failed for this server'));
    }
  }

  /** Settles the state from the listed container; returns the work that may run after /ready. */
  private async reconcileOne(
    server: Server,
    container: ManagedContainer | undefined,
  ): Promise<(() => Promise<void>) | undefined> {
    const { ctx } = this;
    const persisted = server.state;
    if (persisted === 'installing') {
      server.log.info('install was interrupted; running it again');
      this.beginInstall(server);
      return undefined;
    }
    if ((container?.state === 'running' || container?.state === 'paused') && container) {
      if (persisted !== 'running') {
        await server.transition(persisted === 'stopping' ? 'stopping' : 'running', {
          force: true,
          reason: 'boot_restore',
        });
      }
      const pending = server.pending;
      const resume = pending?.action === 'stop' || persisted === 'stopping';
      return () =>
        this.reattachSlots.run(async () => {
          await this.reattach(server, container.id);
          // After the reattach, so a stop command can be written to the console again.
          if (resume) {
            this.power.resumeStop(server, { signal: pending?.signal ?? 'SIGTERM', timeoutS: pending?.timeoutS ?? 30 });
          }
        });
    }
    // Not running (stopped or missing container).
    const wanted = server.pending?.action === 'start' || server.pending?.action === 'restart';
    const wasUp = persisted === 'running' || persisted === 'starting';
    if (persisted === 'stopping') {
      server.pending = undefined;
      await server.transition('offline', { reason: 'requested', force: true });
      return undefined;
    }
    if (wanted || (wasUp && ctx.config.servers.bootRestore)) {
      await server.transition('offline', { reason: 'boot_restore', force: true });
      // Through the create slots, and holding one until the start settles: 200 restores at once are the burst
      // that made the Engine answer starts after their deadline.
      return () =>
        this.createSlots.run(async () => {
          if (server.deleted || server.lock.current || server.state !== 'offline') return;
          await this.power.start(server, 'boot_restore');
          await server.lock.settled();
        });
    }
    if (wasUp) await server.transition('offline', { reason: 'exited', force: true });
    return undefined;
  }

  /** Reattaches a running server after a restart: its run's facts, the log tail, then stdin and output. */
  private async reattach(server: Server, containerId: string): Promise<void> {
    const { ctx } = this;
    if (server.deleted || !isActive(server.state) || server.console.attached) return;
    const status = await ctx.runtime.status(containerId);
    // It exited meanwhile: the die event (or the next reconcile) classifies that.
    if (!status?.running || server.deleted || !isActive(server.state) || server.console.attached) return;
    server.startedAt = status.startedAt;
    server.running = { containerId, pid: status.pid };
    server.console.preload(await ctx.runtime.logTail(containerId, 500).catch(() => Buffer.alloc(0)));
    if (!server.console.attached) server.console.attach(await ctx.runtime.attach(containerId));
  }

  /** Follows Docker events; after the stream reconnects (Docker restarted) every active server is re-checked. */
  watch(): void {
    this.watcher = this.ctx.runtime.watchEvents(
      (event) => this.onEvent(event),
      () => {
        this.ctx.log.info('Docker events stream reconnected; re-checking servers');
        void this.reconciler.sweep();
      },
    );
    this.reconciler.start();
  }

  private onEvent(event: ContainerEvent): void {
    const server = this.ctx.registry.get(event.serverId);
    if (!server) return;
    if (event.action === 'die') {
      void this.exits.check(server).catch((err) => server.log.warn({ err }, 'could not classify an exit'));
    } else if (event.action === 'start') {
      this.reconciler.onStart(server, event.containerId);
    }
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.reconciler.close();
    this.exits.close();
    for (const timer of this.retryTimers) clearTimeout(timer);
    // Background power work stops with the agent; an acknowledged stop or start is persisted as pending and
    // carried out again at the next boot.
    await Promise.race([
      Promise.allSettled(this.ctx.registry.list().map((s) => s.lock.preempt())),
      new Promise((r) => setTimeout(r, 5_000).unref()),
    ]);
    for (const server of this.ctx.registry.list()) server.console.close();
    await this.ctx.store.flush();
  }
}
