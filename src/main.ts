import type { Logger } from 'pino';
import { startBoot } from './agent/boot.js';
import { Closers } from './agent/closers.js';
import { buildCommands } from './agent/commands.js';
import { buildDomain } from './agent/domain.js';
import { startHttp } from './agent/http.js';
import { loadIdentity } from './agent/identity.js';
import { reloaderOf, shutdownOf } from './agent/shutdown.js';
import { buildSockets, startPanelLink } from './agent/sockets.js';
import type { AgentConfig } from './config/schema.js';
import { createLogger } from './logging.js';
import { DiskWatch } from './servers/disk-watch.js';

/** A running agent: everything it opened, closed in reverse order by `stop`. */
export interface RunningAgent {
  port: number;
  stop(reason: string): Promise<void>;
  /** SIGHUP: re-reads what can change live (the token file, after `token rotate`). */
  reload(): Promise<void>;
}

/**
 * Builds the object graph, starts listening, then reconciles with Docker in the background. The builders run in
 * this order on purpose: each registers what it opens on `closers` as it builds it, so shutdown (reverse order)
 * closes the transports before the domain they call, and the servers last but the outbox.
 */
export async function startAgent(
  config: AgentConfig,
  log: Logger = createLogger(config.logLevel, undefined, { nodeId: config.nodeId }),
): Promise<RunningAgent> {
  const startedAtMs = Date.now();
  // Closed in reverse order of registration at shutdown, after the quiesce steps of stop() (agent/shutdown.ts).
  const closers = new Closers(log);
  const identity = await loadIdentity(config, log);
  const domain = await buildDomain(config, log, closers, identity.agentId);
  const commands = await buildCommands(config, log, closers, domain, identity.nodeToken);
  const sockets = buildSockets({ config, log, closers, identity, domain, commands });
  const { port, beginShutdown } = await startHttp({
    config,
    log,
    closers,
    identity,
    domain,
    commands,
    sockets,
    startedAtMs,
  });
  const diskWatch = closers.add('disk watch', new DiskWatch(domain.ctx), (w) => w.stop());
  startPanelLink(closers, sockets.panelLink);
  const bootLoop = startBoot(config, log, closers, { domain, commands, diskWatch });
  const stop = shutdownOf({ config, log, closers, domain, bootLoop, beginShutdown });
  return { port, stop, reload: reloaderOf(config, log, identity.nodeToken) };
}
