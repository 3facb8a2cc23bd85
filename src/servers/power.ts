export { awaitSettling, DEFAULT_STOP, type PowerDeps, type StopOptions } from './power-shared.js';

import { awaitSettling, DEFAULT_STOP, type PowerDeps, type StopOptions, toPending } from './power-shared.js';
import { adoptRunning, failStart, launch, refuseUnstartable, startServer } from './power-start.js';
import { killServer, resumeStop, stopAndSettle, stopServer, suspendServer, unsuspendServer } from './power-stop.js';
import type { Server } from './server.js';
import type { ServerState, StateReason } from './state.js';

async function restartServer(deps: PowerDeps, server: Server, options: StopOptions): Promise<ServerState> {
  await awaitSettling(server);
  refuseUnstartable(server);
  const wasActive = server.state === 'running' || server.state === 'starting';
  server.lock.run('restart', async (signal) => {
    if (wasActive) {
      if (!(await stopAndSettle(deps, server, options, signal, 'offline')) || signal.aborted) return;
      await server.transition('starting', { reason: 'requested' });
    }
    try {
      await launch(deps, server, signal);
    } catch (err) {
      await failStart(server, err);
    }
  });
  server.pending = { action: 'restart', ...toPending(options) };
  if (wasActive) await server.transition('stopping', { reason: 'requested' });
  else await server.transition('starting', { reason: 'requested' });
  // The panel shows STARTING for a restart; the state passes through stopping first.
  return 'starting';
}

/**
 * The one owner of the power lifecycle (PROTOCOL.md §4.1): actions, crash restarts, boot recovery and the
 * reconciler all go through it, built once with its narrow dependencies.
 */
export class PowerController {
  constructor(private readonly deps: PowerDeps) {}

  start(server: Server, reason: StateReason = 'requested'): Promise<ServerState> {
    return startServer(this.deps, server, reason);
  }

  stop(server: Server, options: StopOptions = DEFAULT_STOP): Promise<ServerState> {
    return stopServer(this.deps, server, options);
  }

  restart(server: Server, options: StopOptions = DEFAULT_STOP): Promise<ServerState> {
    return restartServer(this.deps, server, options);
  }

  kill(server: Server): Promise<ServerState> {
    return killServer(this.deps, server);
  }

  suspend(server: Server): Promise<ServerState> {
    return suspendServer(this.deps, server);
  }

  unsuspend(server: Server): Promise<ServerState> {
    return unsuspendServer(server);
  }

  /** Follows a container found running that the agent did not see start. */
  adoptRunning(server: Server, containerId: string): Promise<void> {
    return adoptRunning(this.deps, server, containerId);
  }

  /** Runs the stop ladder and settles the state (reinstall, suspend); false when it did not stop. */
  stopAndSettle(server: Server, options: StopOptions, signal: AbortSignal, final: 'offline' | 'suspended') {
    return stopAndSettle(this.deps, server, options, signal, final);
  }

  /** Boot recovery of an acknowledged stop whose container still runs. */
  resumeStop(server: Server, options: StopOptions): void {
    resumeStop(this.deps, server, options);
  }
}
