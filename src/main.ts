import { mkdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { BootLoop } from './agent/boot-loop.js';
import { Closers } from './agent/closers.js';
import { buildHttpApp } from './api/http/app.js';
import { NodeToken } from './api/http/auth.js';
import { fileRoutes } from './api/http/file-routes.js';
import { metricsRoute, startMetricsListener } from './api/http/metrics-routes.js';
import { buildOpenApiDocument, docsRoute } from './api/http/openapi.js';
import { WsHub } from './api/ws/hub.js';
import { wsPlugin } from './api/ws/plugin.js';
import { consoleActions } from './commands/actions/console.js';
import { fileActions } from './commands/actions/files.js';
import { lifecycleActions } from './commands/actions/lifecycle.js';
import { maintenanceActions } from './commands/actions/maintenance.js';
import { metricsActions } from './commands/actions/metrics.js';
import { modActions } from './commands/actions/mods.js';
import { ticketActions } from './commands/actions/ws-tickets.js';
import { Dispatcher } from './commands/dispatcher.js';
import { ensureDataDirFormat } from './config/data-format.js';
import { MIN_TOKEN_LENGTH, reloadToken, resolveAgentId, resolveToken, tokenFile } from './config/identity.js';
import type { AgentConfig } from './config/schema.js';
import { DockerHealth } from './docker/health.js';
import { DockerRuntime } from './docker/runtime.js';
import { EVENT_NAMES, EventBus } from './events/bus.js';
import { measureTree } from './files/disk-measure.js';
import { createLogger } from './logging.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { GameQueries } from './metrics/game-queries.js';
import { HostMetrics, systemLoadPercent } from './metrics/host-metrics.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { StatsPusher } from './metrics/stats-pusher.js';
import { WebhookOutbox } from './mods/webhook-outbox.js';
import { PanelAliasLookup } from './panel/alias-lookup.js';
import { Outbox } from './panel/outbox.js';
import { PanelLink } from './panel/panel-link.js';
import { panelSocketUrl } from './panel/panel-socket-url.js';
import type { HelloIdentity } from './protocol/frames.js';
import { UrlSigner } from './protocol/signed-url.js';
import { TicketSigner } from './protocol/tickets.js';
import { configFilesBeforeStart } from './servers/config-files-before-start.js';
import type { ServerContext } from './servers/context.js';
import { DiskUsageTracker } from './servers/disk-usage.js';
import { DiskWatch } from './servers/disk-watch.js';
import { FileAccess } from './servers/file-access.js';
import { ServerManager } from './servers/manager.js';
import { ServerRegistry } from './servers/registry.js';
import { ServerStore } from './servers/store.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from './version.js';

/** A running agent: everything it opened, closed in reverse order by `stop`. */
export interface RunningAgent {
  port: number;
  stop(reason: string): Promise<void>;
  /** SIGHUP: re-reads what can change live (the token file, after `token rotate`). */
  reload(): Promise<void>;
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

/** Builds the object graph, starts listening, then reconciles with Docker in the background. */
export async function startAgent(
  config: AgentConfig,
  log: Logger = createLogger(config.logLevel, undefined, { nodeId: config.nodeId }),
): Promise<RunningAgent> {
  const startedAt = Date.now();
  // Closed in reverse order of registration at shutdown, after the quiesce steps of stop() below.
  const closers = new Closers(log);
  await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
  await ensureDataDirFormat(config.dataDir, log.child({ component: 'data-dir' }));

  const token = await resolveToken(config.token, config.dataDir);
  // Never the token itself: stdout is the journal, kept and shipped. The operator reads it with `token show`.
  if (token.generated) {
    log.info(
      { file: tokenFile(config.dataDir) },
      'generated a node token; `ctrl-alt-play-agent token show` prints it for the panel',
    );
  }
  if (token.token.length < MIN_TOKEN_LENGTH) log.warn(`the token is shorter than ${MIN_TOKEN_LENGTH} characters`);
  // One holder for every user of the token, so `token rotate` + SIGHUP reaches all of them (reloadToken below).
  const nodeToken = new NodeToken(token.token);
  const agentId = await resolveAgentId(config.dataDir);

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
  // With a panel link, events bound for the panel survive an agent restart: the epoch and seq continue from the
  // persisted outbox so the panel can resume across the restart (PROTOCOL.md §6.3).
  const panelUrl = panelSocketUrl(config.panel, config.nodeId);
  const outbox = panelUrl ? new Outbox(config.dataDir, 10_000, log.child({ component: 'outbox' })) : undefined;
  if (outbox) closers.add('panel outbox', outbox, (o) => o.close());
  const carried = await outbox?.load();
  const bus = new EventBus(carried ? { epoch: carried.epoch, startSeq: carried.seq, preload: carried.events } : {});
  if (outbox) {
    await outbox.reset(bus.epoch, carried?.events ?? []);
    bus.subscribe((event) => outbox.append(event, () => ({ epoch: bus.epoch, events: bus.buffered() })));
  }
  const ctx: ServerContext = {
    config,
    agentId,
    runtime,
    registry,
    store,
    bus,
    log: log.child({ component: 'servers' }),
    disk: new DiskUsageTracker({ measure: measureTree }),
    host: { ioWeight: true },
    runAs: resolveRunAs(config.servers.user),
  };
  const manager = closers.add('servers', new ServerManager(ctx), (m) => m.close());
  await manager.load();

  const aliasLookup =
    config.panel.url && config.panel.apiToken
      ? new PanelAliasLookup({
          panelUrl: config.panel.url,
          nodeId: config.nodeId,
          apiToken: config.panel.apiToken,
          registry,
          log: log.child({ component: 'alias-lookup' }),
          version: AGENT_VERSION,
        })
      : undefined;
  const dispatcher = new Dispatcher({
    resolveUnknown: aliasLookup ? () => aliasLookup.refresh() : undefined,
    registry,
    log: log.child({ component: 'dispatcher' }),
    replyDeadlineMs: config.http.replyDeadlineMs,
  });
  // Game queries (PROTOCOL.md §4.6): the query library itself loads on the first query, not here.
  const queries = new GameQueries({
    registry,
    bus,
    log: log.child({ component: 'queries' }),
    defaultIp: config.servers.defaultIp,
    timeoutMs: config.metrics.queryTimeoutMs,
    concurrency: config.metrics.queryConcurrency,
  });
  closers.add('game queries', queries, (q) => q.close());
  dispatcher.register(lifecycleActions(manager, queries));
  dispatcher.register(consoleActions(ctx));
  const fileAccess = new FileAccess(ctx, config.files);
  dispatcher.register(maintenanceActions(manager, fileAccess));
  ctx.beforeStart = configFilesBeforeStart(ctx, fileAccess);
  const webhooks = config.panel.url
    ? new WebhookOutbox(
        config.dataDir,
        `${config.panel.url.replace(/\/+$/, '')}/api/workshop/webhook/status`,
        `ctrl-alt-play-agent/${AGENT_VERSION}`,
        log.child({ component: 'webhooks' }),
      )
    : undefined;
  await webhooks?.start();
  if (webhooks) closers.add('webhook outbox', webhooks, (w) => w.stop());
  dispatcher.register(
    modActions({
      ctx,
      access: fileAccess,
      webhooks,
      config: config.mods,
      userAgent: `ctrl-alt-play-agent/${AGENT_VERSION}`,
    }),
  );
  const urlSigner = new UrlSigner(nodeToken);
  dispatcher.register(fileActions(fileAccess, urlSigner));
  const serverMetrics = new ServerMetrics(ctx, (id) => queries.players(id));
  dispatcher.register(
    metricsActions(ctx, {
      servers: serverMetrics,
      host: new HostMetrics(config.dataDir),
      dockerVersion: () => health.version,
    }),
  );

  /** The pong's data on both WebSocket transports (PROTOCOL.md §6.1). */
  const pongData = () => ({
    agentStatus: 'healthy',
    activeServers: registry.list().filter((s) => s.state === 'running').length,
    systemLoad: systemLoadPercent(config.dataDir),
  });
  const signer = new TicketSigner(nodeToken);
  dispatcher.register(ticketActions(signer, config.ws.maxTicketTtlSeconds));
  const matchesToken = (candidate: string | undefined) => nodeToken.matches(candidate);
  // What both WebSocket transports say about this agent in their hello (protocol/frames.ts helloFrame).
  const identity = (): HelloIdentity => ({
    agentId,
    nodeId: config.nodeId,
    version: AGENT_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    epoch: bus.epoch,
    seq: bus.currentSeq,
    capabilities: { actions: dispatcher.actionNames, events: EVENT_NAMES },
  });
  const hub = new WsHub(
    {
      config: config.ws,
      dispatcher,
      bus,
      registry,
      tickets: signer,
      matchesToken,
      log: log.child({ component: 'ws' }),
      hello: identity,
      pong: pongData,
    },
    bus,
  );
  const statsPusher = new StatsPusher(
    ctx,
    serverMetrics,
    (id) => hub.wantsStats(id),
    config.metrics.resourceIntervalMs,
    log.child({ component: 'stats' }),
  );
  statsPusher.start();
  closers.add('stats pusher', statsPusher, (p) => p.stop());

  const panelLink = panelUrl
    ? new PanelLink({
        url: panelUrl,
        token: token.token,
        agentId,
        nodeId: config.nodeId,
        version: AGENT_VERSION,
        caFile: config.panel.caFile,
        dispatcher,
        bus,
        log: log.child({ component: 'panel-link' }),
        hello: () => ({
          ...identity(),
          servers: registry.list().map((s) => ({ serverId: s.id, aliases: s.aliases, status: s.state })),
        }),
        pong: pongData,
        pingIntervalMs: config.panel.pingIntervalMs,
        silenceTimeoutMs: config.panel.silenceTimeoutMs,
        resetAfterMs: 60_000,
        onEstablished: () => void aliasLookup?.refresh(),
      })
    : undefined;

  const agentMetrics = new AgentMetrics({
    version: AGENT_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    nodeId: config.nodeId,
    agentId,
    startedAtMs: startedAt,
    docker: () => ({ state: health.state, version: health.version }),
    panelLink: () => panelLink?.state ?? 'disabled',
    servers: () => registry.list(),
    serverMetrics,
    diskBytes: (id) => ctx.disk.peek(id)?.bytes,
    panelOutboxEvents: () => (outbox ? bus.currentSeq - bus.oldestSeq + 1 : undefined),
    webhookOutboxEntries: () => webhooks?.size,
  });
  closers.add('agent metrics', agentMetrics, (m) => m.close());

  const https =
    config.tls.certFile && config.tls.keyFile
      ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
      : undefined;
  nodeToken.onRotate(() => hub.tokenRotated());
  const { app, beginShutdown } = await buildHttpApp({
    token: nodeToken,
    dispatcher,
    logger: log.child({ component: 'http' }),
    bodyLimitBytes: config.http.bodyLimitBytes,
    authFailuresPerMinute: config.http.authFailuresPerMinute,
    https,
    plugins: [
      ...(config.metrics.listen ? [] : [metricsRoute(() => agentMetrics.render())]),
      docsRoute(() => buildOpenApiDocument({ version: AGENT_VERSION, actions: dispatcher.definitions })),
      wsPlugin(hub, { allowedOrigins: config.ws.allowedOrigins, maxPayloadBytes: config.http.bodyLimitBytes }),
      fileRoutes({ registry, access: fileAccess, signer: urlSigner }),
    ],
    status: {
      nodeId: config.nodeId,
      agentId,
      version: AGENT_VERSION,
      uptimeSeconds: () => Math.floor((Date.now() - startedAt) / 1000),
      docker: () => ({ reachable: health.reachable, version: health.version }),
      serverCount: () => registry.size,
      readiness: () =>
        health.state === 'unreachable'
          ? { ready: false, reason: 'docker_unreachable' }
          : health.reachable && manager.ready
            ? { ready: true }
            : { ready: false, reason: 'starting' },
      dockerState: () => health.state,
      degraded: () => [
        ...(health.state === 'unreachable' ? (['docker_unreachable'] as const) : []),
        ...(panelLink && panelLink.state !== 'established' ? (['panel_link_down'] as const) : []),
      ],
      panelLink: () => panelLink?.state ?? 'disabled',
    },
  });
  await app.listen({ host: config.host, port: config.port });
  // In-flight requests get a bounded time; then sockets are closed regardless.
  closers.add('http', app, (a) =>
    Promise.race([a.close(), new Promise((r) => setTimeout(r, config.shutdown.graceMs).unref())]),
  );
  const metricsListener = config.metrics.listen
    ? await startMetricsListener({
        listen: config.metrics.listen,
        matches: config.metrics.auth ? matchesToken : undefined,
        authFailuresPerMinute: config.http.authFailuresPerMinute,
        render: () => agentMetrics.render(),
        log: log.child({ component: 'metrics' }),
      })
    : undefined;
  if (metricsListener) closers.add('metrics listener', metricsListener, (m) => m.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info(
    { host: config.host, port, dataDir: config.dataDir, nodeId: config.nodeId, agentId, version: AGENT_VERSION },
    'agent listening',
  );

  const diskWatch = closers.add('disk watch', new DiskWatch(ctx), (w) => w.stop());

  panelLink?.start();
  if (panelLink) closers.add('panel link', panelLink, (l) => l.stop());

  // Boot reconciliation waits for Docker: the agent serves /health and refuses Docker work until then.
  const bootLoop = new BootLoop(async () => {
    // Side by side: /ready waits for this chain, and each call costs 0.1-0.3 s on a loaded Engine (issue 13).
    const [, facts] = await Promise.all([runtime.ensureNetwork(config.docker.network), runtime.hostFacts()]);
    ctx.host = facts;
    await manager.reconcile();
    manager.watch();
    void aliasLookup?.refresh();
    diskWatch.start();
    queries.start();
    log.info({ servers: registry.size }, 'reconciled with Docker');
  }, log);
  const boot = () => bootLoop.trigger();
  health.onChange((reachable) => {
    if (reachable) void boot();
  });
  health.start();
  closers.add('docker health', health, (h) => h.stop());

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down');
      // Quiesce first: refuse new requests and boots, tell the clients, let a boot in progress end, and stop the
      // servers when configured (the panel link is still up to report it). Then everything closes in reverse
      // order of construction.
      beginShutdown();
      bootLoop.close();
      bus.publish('daemon_message', undefined, { level: 'info', message: 'agent shutting down' });
      await bootLoop.settled();
      if (config.shutdown.stopServers) {
        const active = registry.list().filter((s) => s.state === 'running' || s.state === 'starting');
        await Promise.allSettled(active.map((s) => manager.power.stop(s, { signal: 'SIGTERM', timeoutS: 30 })));
        const deadline = Date.now() + 45_000;
        while (Date.now() < deadline && registry.list().some((s) => s.lock.current)) {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await closers.closeAll();
      log.info('shutdown complete');
    })();
    return stopping;
  };
  const reload = async (): Promise<void> => {
    const next = await reloadToken(config.token, config.dataDir, nodeToken.current());
    if (next.kind === 'changed') {
      nodeToken.rotate(next.token);
      log.warn('node token rotated: sockets opened with the old token were closed, the new one is in force');
    } else if (next.kind === 'missing')
      log.error({ file: tokenFile(config.dataDir) }, 'SIGHUP: no token file; kept the current token');
  };
  return { port, stop, reload };
}
