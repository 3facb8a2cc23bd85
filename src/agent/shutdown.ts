import type { Logger } from 'pino';
import type { NodeToken } from '../api/http/auth.js';
import { reloadToken, tokenFile } from '../config/identity.js';
import type { AgentConfig } from '../config/schema.js';
import type { BootLoop } from './boot-loop.js';
import type { Closers } from './closers.js';
import type { Domain } from './domain.js';

interface StopDeps {
  config: AgentConfig;
  log: Logger;
  closers: Closers;
  domain: Domain;
  bootLoop: BootLoop;
  /** The HTTP app's gate: refuses new requests from here on. */
  beginShutdown(): void;
}

/** The agent's `stop`: runs once (later calls join the first) and resolves when everything is closed. */
export function shutdownOf(deps: StopDeps): (reason: string) => Promise<void> {
  const { config, log, closers, bootLoop } = deps;
  const { bus, registry, manager } = deps.domain;
  let stopping: Promise<void> | undefined;
  return (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down');
      // Quiesce first: refuse new requests and boots, tell the clients, let a boot in progress end, and stop the
      // servers when configured (the panel link is still up to report it). Then everything closes in reverse
      // order of construction.
      deps.beginShutdown();
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
}

/** The agent's `reload` (SIGHUP): re-reads the token file and rotates the token everywhere when it changed. */
export function reloaderOf(config: AgentConfig, log: Logger, nodeToken: NodeToken): () => Promise<void> {
  return async (): Promise<void> => {
    const next = await reloadToken(config.token, config.dataDir, nodeToken.current());
    if (next.kind === 'changed') {
      nodeToken.rotate(next.token);
      log.warn('node token rotated: sockets opened with the old token were closed, the new one is in force');
    } else if (next.kind === 'missing')
      log.error({ file: tokenFile(config.dataDir) }, 'SIGHUP: no token file; kept the current token');
  };
}
