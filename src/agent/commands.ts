import type { Logger } from 'pino';
import type { NodeToken } from '../api/http/auth.js';
import { consoleActions } from '../commands/actions/console.js';
import { fileActions } from '../commands/actions/files.js';
import { lifecycleActions } from '../commands/actions/lifecycle.js';
import { maintenanceActions } from '../commands/actions/maintenance.js';
import { metricsActions } from '../commands/actions/metrics.js';
import { modActions } from '../commands/actions/mods.js';
import { ticketActions } from '../commands/actions/ws-tickets.js';
import { Dispatcher } from '../commands/dispatcher.js';
import type { AgentConfig } from '../config/schema.js';
import { GameQueries } from '../metrics/game-queries.js';
import { HostMetrics } from '../metrics/host-metrics.js';
import { ServerMetrics } from '../metrics/server-metrics.js';
import { WebhookOutbox } from '../mods/webhook-outbox.js';
import { PanelAliasLookup } from '../panel/alias-lookup.js';
import { UrlSigner } from '../protocol/signed-url.js';
import { TicketSigner } from '../protocol/tickets.js';
import type { FileAccess } from '../servers/file-access.js';
import { AGENT_VERSION } from '../version.js';
import type { Closers } from './closers.js';
import type { Domain } from './domain.js';

/** The one dispatcher the three transports call, with what its actions were built on. */
export interface Commands {
  dispatcher: Dispatcher;
  /** Only with a panel URL and API token: resolves server ids the agent does not know yet. */
  aliasLookup: PanelAliasLookup | undefined;
  queries: GameQueries;
  fileAccess: FileAccess;
  /** Only with a panel URL: mod status webhooks, persisted until delivered. */
  webhooks: WebhookOutbox | undefined;
  urlSigner: UrlSigner;
  tickets: TicketSigner;
  serverMetrics: ServerMetrics;
}

function buildAliasLookup(config: AgentConfig, log: Logger, domain: Domain): PanelAliasLookup | undefined {
  return config.panel.url && config.panel.apiToken
    ? new PanelAliasLookup({
        panelUrl: config.panel.url,
        nodeId: config.nodeId,
        apiToken: config.panel.apiToken,
        registry: domain.registry,
        log: log.child({ component: 'alias-lookup' }),
        version: AGENT_VERSION,
      })
    : undefined;
}

async function startWebhooks(config: AgentConfig, log: Logger, closers: Closers): Promise<WebhookOutbox | undefined> {
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
  return webhooks;
}

/**
 * Builds the dispatcher and registers every action group on it. The registration order is the order of the
 * actions the hello advertises (capabilities.actions), so it is kept as it was.
 */
export async function buildCommands(
  config: AgentConfig,
  log: Logger,
  closers: Closers,
  domain: Domain,
  nodeToken: NodeToken,
): Promise<Commands> {
  const { ctx, manager, registry, bus, health } = domain;
  const aliasLookup = buildAliasLookup(config, log, domain);
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
  const { fileAccess } = domain;
  dispatcher.register(maintenanceActions(manager, fileAccess));
  const webhooks = await startWebhooks(config, log, closers);
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
  const tickets = new TicketSigner(nodeToken);
  dispatcher.register(ticketActions(tickets, config.ws.maxTicketTtlSeconds));
  return { dispatcher, aliasLookup, queries, fileAccess, webhooks, urlSigner, tickets, serverMetrics };
}
