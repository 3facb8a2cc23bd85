import type { Logger } from 'pino';
import type { AgentConfig } from '../config/schema.js';
import { DockerHealth } from '../docker/health.js';
import { DockerRuntime } from '../docker/runtime.js';
import { EventBus } from '../events/bus.js';
import { measureTree } from '../files/disk-measure.js';
import { Outbox } from '../panel/outbox.js';
import { panelSocketUrl } from '../panel/panel-socket-url.js';
import { configFilesBeforeStart } from '../servers/config-files-before-start.js';
import type { ServerContext } from '../servers/context.js';
import { DiskUsageTracker } from '../servers/disk-usage.js';
import { FileAccess } from '../servers/file-access.js';
import { ServerManager } from '../servers/manager.js';
import { ServerRegistry } from '../servers/registry.js';
import { ServerStore } from '../servers/store.js';
import { firstSuccess } from '../util/first-success.js';
import type { Closers } from './closers.js';

/** The domain core: Docker, the servers and the event bus every transport reads. */
export interface Domain {
  runtime: DockerRuntime;
  health: DockerHealth;
  registry: ServerRegistry;
  bus: EventBus;
  /** Only with a panel link: the persisted events bound for the panel. */
  outbox: Outbox | undefined;
  /** The panel's WebSocket URL, or undefined when no panel link is configured. */
  panelUrl: URL | undefined;
  ctx: ServerContext;
  /** Every server's file sandbox: the file actions, the streaming routes and the config-file rewrite use it. */
  fileAccess: FileAccess;
  manager: ServerManager;
}

function resolveRunAs(user: string): { uid: number; gid: number } | undefined {
  if (user === 'image') return undefined;
  if (user === 'auto') {
    const uid = process.getuid?.() ?? 0;
    return uid === 0 ? { uid: 988, gid: 988 } : { uid, gid: process.getgid?.() ?? uid };
  }
  const [uid, gid] = user.split(':').map(Number);
  return { uid: uid as number, gid: gid as number };
}

/**
 * With a panel link, events bound for the panel survive an agent restart: the epoch and seq continue from the
 * persisted outbox so the panel can resume across the restart (PROTOCOL.md §6.3). The outbox is loaded before
 * the bus is built, since the bus starts from what it carried.
 */
async function openEventBus(
  config: AgentConfig,
  log: Logger,
  closers: Closers,
  panelUrl: URL | undefined,
): Promise<{ bus: EventBus; outbox: Outbox | undefined }> {
  const outbox = panelUrl ? new Outbox(config.dataDir, 10_000, log.child({ component: 'outbox' })) : undefined;
  if (outbox) closers.add('panel outbox', outbox, (o) => o.close());
  const carried = await outbox?.load();
  const bus = new EventBus(carried ? { epoch: carried.epoch, startSeq: carried.seq, preload: carried.events } : {});
  if (outbox) {
    await outbox.reset(bus.epoch, carried?.events ?? []);
    bus.subscribe((event) => outbox.append(event, () => ({ epoch: bus.epoch, events: bus.buffered() })));
  }
  return { bus, outbox };
}

/** Builds Docker access, the store and registry, the event bus and the server manager, and loads the servers. */
export async function buildDomain(
  config: AgentConfig,
  log: Logger,
  closers: Closers,
  agentId: string,
): Promise<Domain> {
  const runtime = new DockerRuntime({
    agentId,
    host: config.docker.host,
    apiTimeoutMs: config.docker.apiTimeoutMs,
    pullTimeoutMs: config.docker.pullTimeoutMs,
    registries: config.docker.registries,
    logger: log.child({ component: 'docker' }),
  });
  const health = new DockerHealth(runtime, log.child({ component: 'docker-health' }), {
    host: config.docker.host ?? 'unix:///var/run/docker.sock',
    intervalMs: config.docker.healthIntervalMs,
    pingTimeoutMs: Math.min(3_000, config.docker.apiTimeoutMs),
  });
  const store = new ServerStore(config.dataDir, log.child({ component: 'store' }));
  const registry = new ServerRegistry(store);
  const panelUrl = panelSocketUrl(config.panel, config.nodeId);
  const { bus, outbox } = await openEventBus(config, log, closers, panelUrl);
  const ctx: ServerContext = {
    config,
    agentId,
    runtime,
    registry,
    store,
    bus,
    log: log.child({ component: 'servers' }),
    disk: new DiskUsageTracker({ measure: measureTree }),
    hostFacts: firstSuccess(() => runtime.hostFacts()),
    runAs: resolveRunAs(config.servers.user),
  };
  const fileAccess = new FileAccess(ctx, config.files);
  const manager = closers.add(
    'servers',
    new ServerManager(ctx, { beforeStart: configFilesBeforeStart(ctx, fileAccess) }),
    (m) => m.close(),
  );
  await manager.load();
  return { runtime, health, registry, bus, outbox, panelUrl, ctx, fileAccess, manager };
}
