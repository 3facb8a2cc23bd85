import { readFile } from 'node:fs/promises';
import { type AgentStatus, buildHttpApp } from '../api/http/app.js';
import { fileRoutes } from '../api/http/file-routes.js';
import { metricsRoute, startMetricsListener } from '../api/http/metrics-routes.js';
import { buildOpenApiDocument, docsRoute } from '../api/http/openapi.js';
import { wsPlugin } from '../api/ws/plugin.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../version.js';
import type { SocketDeps, Sockets } from './sockets.js';

interface HttpDeps extends SocketDeps {
  sockets: Sockets;
  startedAtMs: number;
}

function buildAgentMetrics(deps: HttpDeps): AgentMetrics {
  const { config, closers, identity, domain, commands, sockets } = deps;
  const { health, registry, bus, outbox } = domain;
  const agentMetrics = new AgentMetrics({
    version: AGENT_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    nodeId: config.nodeId,
    agentId: identity.agentId,
    startedAtMs: deps.startedAtMs,
    docker: () => ({ state: health.state, version: health.version }),
    panelLink: () => sockets.panelLink?.state ?? 'disabled',
    servers: () => registry.list(),
    serverMetrics: commands.serverMetrics,
    diskBytes: (id) => domain.ctx.disk.peek(id)?.bytes,
    panelOutboxEvents: () => (outbox ? bus.currentSeq - bus.oldestSeq + 1 : undefined),
    webhookOutboxEntries: () => commands.webhooks?.size,
  });
  return closers.add('agent metrics', agentMetrics, (m) => m.close());
}

/** /health, /ready and /api/status, read from the live object graph. */
function agentStatus(deps: HttpDeps): AgentStatus {
  const { config, identity, domain, sockets, startedAtMs } = deps;
  const { health, registry, manager } = domain;
  const { panelLink } = sockets;
  return {
    nodeId: config.nodeId,
    agentId: identity.agentId,
    version: AGENT_VERSION,
    uptimeSeconds: () => Math.floor((Date.now() - startedAtMs) / 1000),
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
  };
}

/**
 * Builds the metrics, the HTTP app (with the WebSocket and file routes) and, when configured, the separate
 * metrics listener, and starts listening. Resolves with the bound port and the app's shutdown gate.
 */
export async function startHttp(deps: HttpDeps): Promise<{ port: number; beginShutdown(): void }> {
  const { config, log, closers, identity, domain, commands, sockets } = deps;
  const agentMetrics = buildAgentMetrics(deps);
  const https =
    config.tls.certFile && config.tls.keyFile
      ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
      : undefined;
  identity.nodeToken.onRotate(() => sockets.hub.tokenRotated());
  const { dispatcher } = commands;
  const { app, beginShutdown } = await buildHttpApp({
    token: identity.nodeToken,
    dispatcher,
    logger: log.child({ component: 'http' }),
    bodyLimitBytes: config.http.bodyLimitBytes,
    authFailuresPerMinute: config.http.authFailuresPerMinute,
    https,
    plugins: [
      ...(config.metrics.listen ? [] : [metricsRoute(() => agentMetrics.render())]),
      docsRoute(() => buildOpenApiDocument({ version: AGENT_VERSION, actions: dispatcher.definitions })),
      wsPlugin(sockets.hub, { allowedOrigins: config.ws.allowedOrigins, maxPayloadBytes: config.http.bodyLimitBytes }),
      fileRoutes({ registry: domain.registry, access: commands.fileAccess, signer: commands.urlSigner }),
    ],
    status: agentStatus(deps),
  });
  await app.listen({ host: config.host, port: config.port });
  // In-flight requests get a bounded time; then sockets are closed regardless.
  closers.add('http', app, (a) =>
    Promise.race([a.close(), new Promise((r) => setTimeout(r, config.shutdown.graceMs).unref())]),
  );
  const metricsListener = config.metrics.listen
    ? await startMetricsListener({
        listen: config.metrics.listen,
        matches: config.metrics.auth ? sockets.matchesToken : undefined,
        authFailuresPerMinute: config.http.authFailuresPerMinute,
        render: () => agentMetrics.render(),
        log: log.child({ component: 'metrics' }),
      })
    : undefined;
  if (metricsListener) closers.add('metrics listener', metricsListener, (m) => m.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info(
    {
      host: config.host,
      port,
      dataDir: config.dataDir,
      nodeId: config.nodeId,
      agentId: identity.agentId,
      version: AGENT_VERSION,
    },
    'agent listening',
  );
  return { port, beginShutdown };
}
