import type { Logger } from 'pino';
import { WsHub } from '../api/ws/hub.js';
import type { AgentConfig } from '../config/schema.js';
import { EVENT_NAMES } from '../events/bus.js';
import { systemLoadPercent } from '../metrics/host-metrics.js';
import { StatsPusher } from '../metrics/stats-pusher.js';
import { PanelLink, type PanelLinkOptions } from '../panel/panel-link.js';
import type { HelloIdentity } from '../protocol/frames.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../version.js';
import type { Closers } from './closers.js';
import type { Commands } from './commands.js';
import type { Domain } from './domain.js';
import type { AgentIdentity } from './identity.js';

/** The two WebSocket transports: the inbound hub and, with a panel URL, the outbound panel link (not yet dialled). */
export interface Sockets {
  hub: WsHub;
  panelLink: PanelLink | undefined;
  matchesToken(candidate: string | undefined): boolean;
}

export interface SocketDeps {
  config: AgentConfig;
  log: Logger;
  closers: Closers;
  identity: AgentIdentity;
  domain: Domain;
  commands: Commands;
}

function buildPanelLink(
  deps: SocketDeps,
  hello: () => HelloIdentity,
  pong: PanelLinkOptions['pong'],
): PanelLink | undefined {
  const { config, log, identity, domain, commands } = deps;
  if (!domain.panelUrl) return undefined;
  return new PanelLink({
    url: domain.panelUrl,
    token: () => identity.nodeToken.current(),
    agentId: identity.agentId,
    nodeId: config.nodeId,
    version: AGENT_VERSION,
    caFile: config.panel.caFile,
    dispatcher: commands.dispatcher,
    bus: domain.bus,
    log: log.child({ component: 'panel-link' }),
    hello: () => ({
      ...hello(),
      servers: domain.registry.list().map((s) => ({ serverId: s.id, aliases: s.aliases, status: s.state })),
    }),
    pong,
    pingIntervalMs: config.panel.pingIntervalMs,
    silenceTimeoutMs: config.panel.silenceTimeoutMs,
    resetAfterMs: 60_000,
    onEstablished: () => void commands.aliasLookup?.refresh(),
  });
}

/** Builds the hub (and the stats pusher it drives) and the panel link, sharing one hello identity and pong. */
export function buildSockets(deps: SocketDeps): Sockets {
  const { config, log, closers, identity, domain, commands } = deps;
  const { registry, bus } = domain;
  /** The pong's data on both WebSocket transports (PROTOCOL.md §6.1). */
  const pongData = () => ({
    agentStatus: 'healthy',
    activeServers: registry.list().filter((s) => s.state === 'running').length,
    systemLoad: systemLoadPercent(config.dataDir),
  });
  const matchesToken = (candidate: string | undefined) => identity.nodeToken.matches(candidate);
  // What both WebSocket transports say about this agent in their hello (protocol/frames.ts helloFrame).
  const hello = (): HelloIdentity => ({
    agentId: identity.agentId,
    nodeId: config.nodeId,
    version: AGENT_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    epoch: bus.epoch,
    seq: bus.currentSeq,
    capabilities: { actions: commands.dispatcher.actionNames, events: EVENT_NAMES },
  });
  const hub = new WsHub(
    {
      config: config.ws,
      dispatcher: commands.dispatcher,
      bus,
      registry,
      tickets: commands.tickets,
      matchesToken,
      log: log.child({ component: 'ws' }),
      hello,
      pong: pongData,
    },
    bus,
  );
  const statsPusher = new StatsPusher(
    domain.ctx,
    commands.serverMetrics,
    (id) => hub.wantsStats(id),
    config.metrics.resourceIntervalMs,
    log.child({ component: 'stats' }),
  );
  statsPusher.start();
  closers.add('stats pusher', statsPusher, (p) => p.stop());
  return { hub, panelLink: buildPanelLink(deps, hello, pongData), matchesToken };
}

/** Dials the panel once the agent listens; the link redials on its own until it is stopped. */
export function startPanelLink(closers: Closers, panelLink: PanelLink | undefined): void {
  panelLink?.start();
  if (panelLink) closers.add('panel link', panelLink, (l) => l.stop());
}
