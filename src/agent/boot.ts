import type { Logger } from 'pino';
import type { AgentConfig } from '../config/schema.js';
import type { DiskWatch } from '../servers/disk-watch.js';
import { BootLoop } from './boot-loop.js';
import type { Closers } from './closers.js';
import type { Commands } from './commands.js';
import type { Domain } from './domain.js';

/**
 * Boot reconciliation waits for Docker: the agent serves /health and refuses Docker work until then. Each time
 * the Engine becomes reachable the loop is triggered; health checks start here, after the agent listens.
 */
export function startBoot(
  config: AgentConfig,
  log: Logger,
  closers: Closers,
  parts: { domain: Domain; commands: Commands; diskWatch: DiskWatch },
): BootLoop {
  const { runtime, health, manager, registry, ctx } = parts.domain;
  const { aliasLookup, queries } = parts.commands;
  const bootLoop = new BootLoop(async () => {
    // Side by side: /ready waits for this chain, and each call costs 0.1-0.3 s on a loaded Engine (issue 13).
    // The host facts are read here first, so the first start or install does not wait on them. The container
    // list too: reconciliation waits for the network, not for its own list (one round trip less before /ready).
    const [, , managed] = await Promise.all([
      runtime.ensureNetwork(config.docker.network),
      ctx.hostFacts(),
      runtime.listManaged(),
    ]);
    await manager.reconcile(managed);
    manager.watch();
    void aliasLookup?.refresh();
    parts.diskWatch.start();
    queries.start();
    log.info({ servers: registry.size }, 'reconciled with Docker');
  }, log);
  const boot = () => bootLoop.trigger();
  health.onChange((reachable) => {
    if (reachable) void boot();
  });
  health.start();
  closers.add('docker health', health, (h) => h.stop());
  return bootLoop;
}
