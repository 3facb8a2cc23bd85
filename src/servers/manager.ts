import { rm } from 'node:fs/promises';
import type { ContainerEvent, ManagedContainer } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import { Semaphore } from '../util/semaphore.js';
import { reconcileAtBoot } from './boot-reconcile.js';
import { ensureServerContainer } from './container.js';
import type { ServerContext } from './context.js';
import { ExitHandler } from './exits.js';
import { InstallLogs } from './install-log.js';
import { Installs } from './installs.js';
import { PortPool } from './port-pool.js';
import { awaitSettling, PowerController } from './power.js';
import { Reconciler } from './reconciler.js';
import type { ServerRegistry } from './registry.js';
import type { Server } from './server.js';
import { serverFromRecord } from './server-from-record.js';
import { type CreateServerPayload, resolveStartup, type ServerSpec, specFromPayload } from './spec.js';
import { isActive, type ServerState } from './state.js';
import { type UpdateResult, updateServer } from './update.js';

export interface CreateResult {
  serverId: string;
  status: ServerState;
  warnings: string[];
  unresolved: string[];
}

/**
 * The server domain's entry point for the command handlers: create, update, delete, boot reconciliation and the
 * Docker events that move states. It is the domain's composition point, the one holder of the whole context:
 * the parts it builds (power, installs, exits, the reconciler) each get the slice they read.
 */
export class ServerManager {
  readonly exits: ExitHandler;
  private watcher: { close(): void } | undefined;
  private reconciled = false;

  /** The ports pool and the node-wide port check; creates and updates place their ports through it, one at a time. */
  readonly ports: PortPool;
  /** Each server's last install output (get_install_log). */
  readonly installLogs: InstallLogs;
  /** Corrects states the events stream missed, against one container list (issue 13). */
  readonly reconciler: Reconciler;
  /** Installs and boot restores in flight at once (servers.createConcurrency); the others wait in line. */
  private readonly createSlots: Semaphore;
  /** Installs in the background, through the create slots, retried after a Docker outage. */
  private readonly installs: Installs;
  /** Reattaches after an agent restart in flight at once (servers.reattachConcurrency). */
  private readonly reattachSlots: Semaphore;

  /** The one owner of power actions; actions, crash restarts, boot recovery and the reconciler use it. */
  readonly power: PowerController;
  /** The servers this agent holds, with their aliases. */
  readonly registry: ServerRegistry;

  /**
   * `beforeStart` is the work before every start, after the container exists (the config-file rewrite,
   * config-files-before-start.ts); it never throws, it reports through the server's notices.
   */
  constructor(
    private readonly ctx: ServerContext,
    hooks: { beforeStart?: (server: Server) => Promise<void> } = {},
  ) {
    this.registry = ctx.registry;
    this.power = new PowerController({
      runtime: ctx.runtime,
      ensureContainer: (server) => ensureServerContainer(ctx, server),
      beforeStart: hooks.beforeStart,
      signalGraceMs: ctx.config.servers.signalGraceMs,
    });
    this.exits = new ExitHandler(ctx, this.power);
    this.ports = new PortPool(ctx.config.allocations.pool, ctx.config.servers.defaultIp);
    this.installLogs = new InstallLogs(ctx.config.dataDir, ctx.config.servers.installLogMaxBytes, ctx.bus, ctx.log);
    this.reconciler = new Reconciler(ctx, this.exits, this.power);
    this.createSlots = new Semaphore(ctx.config.servers.createConcurrency);
    this.installs = new Installs(ctx, this.installLogs, this.createSlots);
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
      server = serverFromRecord(this.ctx, {
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
    this.installs.begin(created);
    if (startAfter) {
      void this.startWhenInstalled(created);
    }
    return { serverId: id, status: 'installing', warnings: resolved.warnings, unresolved: resolved.unresolved };
  }

  /**
   * One install attempt under the caller's lock (reinstall_server's): recorded for get_install_log, and the
   * outcome settles the state.
   */
  installStep(server: Server, signal: AbortSignal): Promise<void> {
    return this.installs.step(server, signal);
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

  /** Loads persisted servers (boot reconciliation then settles them against Docker). */
  async load(): Promise<void> {
    await this.ctx.registry.loadAliases();
    for (const record of await this.ctx.store.loadAll()) {
      this.ctx.registry.add(serverFromRecord(this.ctx, record));
    }
  }

  /**
   * Boot reconciliation (boot-reconcile.ts) against the container list the boot read: /ready once every state is
   * settled, the rest after.
   */
  async reconcile(managed: ManagedContainer[]): Promise<void> {
    const startDeferred = await reconcileAtBoot({
      managed,
      ctx: this.ctx,
      power: this.power,
      reinstall: (server) => this.installs.begin(server),
      createSlots: this.createSlots,
      reattachSlots: this.reattachSlots,
    });
    this.reconciled = true;
    startDeferred();
  }

  /** update_server (update.ts): the new spec, placed through the ports pool. */
  update(server: Server, payload: Record<string, unknown>): Promise<UpdateResult> {
    return updateServer(this.ctx, this.ports, (id) => this.otherSpecs(id), server, payload);
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
    this.installs.close();
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
