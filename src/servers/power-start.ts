import { isDockerTimeout } from '../docker/errors.js';
import type { ContainerStatus } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import { watchEula } from './egg/eula.js';
import { awaitSettling, DEFAULT_STOP, type PowerDeps, toPending } from './power-shared.js';
import type { Server } from './server.js';
import { canTransition, type ServerState, type StateReason } from './state.js';

/** The start half of the power lifecycle (power.ts owns it): launch, adoption of a running container, startupDone. */

export function refuseUnstartable(server: Server): void {
  const state = server.state;
  if (state === 'installing' || state === 'install_failed' || state === 'suspended') {
    throw new AgentError('INVALID_STATE', `server ${server.id} cannot start while ${state}`, { status: state });
  }
}

/** Attaches the console before starting, so no early line is lost, then starts the container. */
export async function launch(deps: PowerDeps, server: Server, signal: AbortSignal): Promise<void> {
  const containerId = await deps.ensureContainer(server);
  await deps.beforeStart?.(server);
  server.console.attach(await deps.runtime.attach(containerId));
  server.watchRun(watchEula(server));
  // A kill that pre-empted this start must not be undone by starting the container afterwards.
  if (signal.aborted) return;
  server.expectingExit = undefined;
  const status = await startContainer(deps, server, containerId);
  if (status === 'undecided') return;
  await settleStarted(server, containerId, status);
}

/**
 * Starts the container; a start the Engine did not answer in time does not decide the state (issue 13: with 200
 * servers some starts were answered after 20 s and the containers ran a second later, while the agent had reported
 * them failed). The container is inspected again: running is a start; not running yet leaves the server
 * `starting` (the pending start kept), and the events stream (`start`, `die`) or the periodic reconcile settle it.
 */
async function startContainer(
  deps: PowerDeps,
  server: Server,
  containerId: string,
): Promise<ContainerStatus | undefined | 'undecided'> {
  try {
    await deps.runtime.start(containerId);
  } catch (err) {
    if (!isDockerTimeout(err)) throw err;
    const status = await deps.runtime.status(containerId).catch(() => undefined);
    server.log.warn(
      { err, running: status?.running ?? null },
      'the Engine did not answer the start in time; the container decides the state',
    );
    return status?.running ? status : 'undecided';
  }
  return deps.runtime.status(containerId);
}

/** A started container: `starting` → `running` (or waiting for startupDone). Shared by launch and adoption. */
async function settleStarted(server: Server, containerId: string, status: ContainerStatus | undefined): Promise<void> {
  server.startedAt = status?.startedAt ?? new Date().toISOString();
  server.running = status?.running ? { containerId, pid: status.pid } : undefined;
  server.pending = undefined;
  if (server.state !== 'starting') return; // it already exited: the exit handler has classified it
  if (status && !status.running) return;
  if (server.spec.startupDone) {
    await server.persist();
    waitForStartupDone(server, new RegExp(server.spec.startupDone));
  } else {
    await server.transition('running');
  }
}

/**
 * A container found running that the agent did not see start (a late answer to a timed-out start, an events
 * stream that missed it, a state from before a restart): the container's state is the truth. Takes the start lock,
 * so it never races a power action; a busy server is left to its holder. `starting` goes the usual way (startupDone
 * included); any other state is corrected by force, as boot reconciliation does, since the table describes what
 * the agent does and this is what Docker did.
 */
export async function adoptRunning(deps: PowerDeps, server: Server, containerId: string): Promise<void> {
  if (server.deleted || server.lock.current || server.expectingExit) return;
  if (server.state === 'installing' || server.state === 'install_failed' || server.state === 'suspended') return;
  const { done } = server.lock.run('start', async () => {
    const status = await deps.runtime.status(containerId);
    if (!status?.running || server.deleted) return;
    if (!server.console.attached) server.console.attach(await deps.runtime.attach(containerId));
    server.log.info({ from: server.state, containerId }, 'container found running; following it');
    if (server.state !== 'starting') {
      const allowed = canTransition(server.state, 'starting');
      await server.transition(allowed ? 'starting' : 'running', { force: !allowed });
    }
    await settleStarted(server, containerId, status);
  });
  await done;
}

/** `starting` → `running` when a console line matches the startupDone pattern (outside the lock). */
function waitForStartupDone(server: Server, pattern: RegExp): void {
  const check = (lines: string[]) => lines.some((line) => pattern.test(line));
  if (check(server.console.lines(200))) {
    void server.transition('running').catch(() => undefined);
    return;
  }
  const stop = server.console.onLines((lines) => {
    if (server.state !== 'starting') return stop();
    if (check(lines)) {
      stop();
      void server.transition('running').catch((err) => server.log.warn({ err }, 'could not mark running'));
    }
  });
}

export async function failStart(server: Server, err: unknown): Promise<void> {
  server.pending = undefined;
  const error = server.reportFailure('start', err);
  if (server.state === 'starting') {
    await server.transition('offline', { reason: error.code === 'PORT_CONFLICT' ? 'port_conflict' : 'crash' });
  }
}

export async function startServer(
  deps: PowerDeps,
  server: Server,
  reason: StateReason = 'requested',
): Promise<ServerState> {
  await awaitSettling(server);
  if (server.state === 'running' || server.state === 'starting') return server.state;
  refuseUnstartable(server);
  server.lock.run('start', async (signal) => {
    try {
      await launch(deps, server, signal);
    } catch (err) {
      await failStart(server, err);
    }
  });
  server.pending = { action: 'start', ...toPending(DEFAULT_STOP) };
  await server.transition('starting', { reason });
  return server.state;
}
