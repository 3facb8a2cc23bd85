import { isDockerTimeout } from '../docker/errors.js';
import { AgentError } from '../errors.js';
import { findServerContainer } from './container.js';
import { awaitSettling, type PowerDeps, type StopOptions, sleep, toPending } from './power-shared.js';
import type { Server } from './server.js';
import type { ServerState } from './state.js';
import { planStop } from './stop-plan.js';

/** The stop half of the power lifecycle (power.ts owns it): the stop ladder, kill, suspend, boot recovery. */

/**
 * The stop ladder: the stop command (if the spec has one) or the signal, wait `timeout`; after a stop command
 * the signal with a further grace; then SIGKILL. Each rung is reported as a daemon_message.
 */
async function stopLadder(
  deps: PowerDeps,
  server: Server,
  options: StopOptions,
  signal: AbortSignal,
): Promise<{ exitCode: number; oomKilled: boolean } | undefined> {
  const container = await findServerContainer(deps.runtime, server);
  if (!container) return undefined;
  const rungs = planStop({
    stopCommand: server.spec.stopCommand,
    stopSignal: server.spec.stopSignal,
    signal: options.signal,
    timeoutS: options.timeoutS,
    graceMs: deps.signalGraceMs,
    canWrite: server.console.attached,
  });
  let graceful = false;
  for (const [i, rung] of rungs.entries()) {
    if (graceful || signal.aborted) break;
    const wait = `waiting up to ${Math.round(rung.waitMs / 1000)} s`;
    if (rung.kind === 'command') {
      if (!server.console.write(`${rung.command}\n`)) continue;
      server.notice('info', `sent stop command "${rung.command}"; ${wait}`);
    } else {
      server.notice(
        i === 0 ? 'info' : 'warning',
        `${i === 0 ? 'sent' : 'still running; sending'} ${rung.signal}; ${wait}`,
      );
      await deps.runtime.kill(container.id, rung.signal);
    }
    graceful = await deps.runtime.waitForExit(container.id, rung.waitMs, signal);
  }
  if (signal.aborted) return undefined;
  if (!graceful) {
    server.notice('warning', 'did not stop in time; sending SIGKILL');
    await deps.runtime.kill(container.id, 'SIGKILL');
    await deps.runtime.waitForExit(container.id, 10_000);
  }
  const status = await deps.runtime.status(container.id);
  return status ? { exitCode: status.exitCode, oomKilled: status.oomKilled } : undefined;
}

/** Whether the server's container runs, by inspection; an Engine that does not answer counts as running. */
async function stillRunning(deps: PowerDeps, server: Server): Promise<boolean> {
  try {
    const container = await findServerContainer(deps.runtime, server);
    return container ? ((await deps.runtime.status(container.id))?.running ?? false) : false;
  } catch {
    return true;
  }
}

/** Runs the ladder and settles the state; used by stop, restart, suspend and boot recovery. */
export async function stopAndSettle(
  deps: PowerDeps,
  server: Server,
  options: StopOptions,
  signal: AbortSignal,
  final: 'offline' | 'suspended',
): Promise<boolean> {
  server.expectingExit = 'stop';
  try {
    const exit = await stopLadder(deps, server, options, signal);
    if (signal.aborted) return false;
    server.console.detach();
    if (server.pending?.action === 'stop') server.pending = undefined;
    await server.transition(final, { reason: 'requested', force: final === 'suspended', ...exit });
    return true;
  } catch (err) {
    server.reportFailure('stop', err);
    // A signal the Engine answered late may still have stopped it: the container decides (issue 13). Still
    // running leaves `stopping`, which the periodic reconcile corrects.
    if (isDockerTimeout(err) && !signal.aborted && !(await stillRunning(deps, server))) {
      server.console.detach();
      await server.transition(final, { reason: 'requested', force: final === 'suspended' });
      return true;
    }
    return false;
  } finally {
    if (server.expectingExit === 'stop') server.expectingExit = undefined;
    if (server.pending?.action === 'stop' && !signal.aborted) server.pending = undefined;
  }
}

export async function stopServer(deps: PowerDeps, server: Server, options: StopOptions): Promise<ServerState> {
  // A start in progress only creates and starts the container (a second or so): let it finish, then stop.
  if (server.lock.current === 'start') await server.lock.settled();
  if (server.state !== 'running' && server.state !== 'starting' && server.state !== 'stopping') return server.state;
  const { joined } = server.lock.run('stop', async (signal) => {
    await stopAndSettle(deps, server, options, signal, 'offline');
  });
  if (joined) return server.state;
  server.pending = { action: 'stop', ...toPending(options) };
  await server.transition('stopping', { reason: 'requested' });
  return server.state;
}

/** SIGKILL now, pre-empting any power action; the container and its files stay. */
export async function killServer(deps: PowerDeps, server: Server): Promise<ServerState> {
  if (server.state === 'installing') {
    throw new AgentError('INVALID_STATE', `server ${server.id} is installing; delete it to abort the install`);
  }
  // Let an aborted start finish its in-flight Engine call, or the container could start after our SIGKILL.
  await Promise.race([server.lock.preempt(), sleep(3_000)]);
  server.expectingExit = 'kill';
  try {
    const container = await findServerContainer(deps.runtime, server);
    if (container) {
      const late = await deps.runtime.kill(container.id, 'SIGKILL').then(
        () => undefined,
        (err: unknown) => {
          if (!isDockerTimeout(err)) throw err;
          return err;
        },
      );
      // A SIGKILL the Engine answered late has usually landed: inspection decides, not the timed-out call.
      if (!(await deps.runtime.waitForExit(container.id, 5_000)) && late) throw late;
    }
  } finally {
    server.expectingExit = undefined;
  }
  server.pending = undefined;
  server.console.detach();
  if (server.state === 'running' || server.state === 'starting' || server.state === 'stopping') {
    await server.transition('offline', { reason: 'killed', force: true });
  } else {
    await server.persist();
  }
  return server.state;
}

export async function suspendServer(deps: PowerDeps, server: Server): Promise<ServerState> {
  await awaitSettling(server);
  if (server.state === 'suspended') return server.state;
  if (server.state === 'installing') throw new AgentError('INVALID_STATE', `server ${server.id} is installing`);
  const active = server.state === 'running' || server.state === 'starting';
  server.suspended = true;
  if (!active) {
    await server.transition('suspended', { reason: 'requested', force: true });
    return server.state;
  }
  server.lock.run('suspend', async (signal) => {
    await stopAndSettle(deps, server, { signal: 'SIGTERM', timeoutS: 10 }, signal, 'suspended');
  });
  await server.transition('stopping', { reason: 'requested' });
  return server.state;
}

export async function unsuspendServer(server: Server): Promise<ServerState> {
  if (server.state !== 'suspended') return server.state;
  server.suspended = false;
  await server.transition('offline', { reason: 'requested' });
  return server.state;
}

/** Boot recovery of an acknowledged stop whose container still runs. */
export function resumeStop(deps: PowerDeps, server: Server, options: StopOptions): void {
  server.lock.run('stop', async (signal) => {
    await stopAndSettle(deps, server, options, signal, 'offline');
  });
}
