import { isDockerTimeout } from '../docker/errors.js';
import type { ContainerStatus, DockerRuntime } from '../docker/runtime.js';
import { AgentError } from '../errors.js';
import { watchEula } from './egg/eula.js';
import type { Server } from './server.js';
import { canTransition, isActive, type ServerState, type StateReason } from './state.js';
import { planStop } from './stop-plan.js';

/**
 * Power actions (PROTOCOL.md §4.1). Each validates and claims the server's lock synchronously, sets the
 * accepted state, and finishes in the background; the reply carries the accepted state.
 */

export interface StopOptions {
  signal: string;
  timeoutS: number;
}

export const DEFAULT_STOP: StopOptions = { signal: 'SIGTERM', timeoutS: 30 };

/** What power actions need, and nothing else: the container calls, how to get a container, the start hook. */
export interface PowerDeps {
  runtime: Pick<DockerRuntime, 'attach' | 'start' | 'status' | 'findContainer' | 'kill' | 'waitForExit'>;
  /** The server's container, (re-)created when missing or built from an older spec (container.ts). */
  ensureContainer(server: Server): Promise<string>;
  /** Work before every start once the container exists (the config-file rewrite); never throws. */
  beforeStart?: ((server: Server) => Promise<void>) | undefined;
  /** Extra wait after a stop command before the signal rung (servers.signalGraceMs). */
  signalGraceMs: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A holder whose state has already settled (offline, crashed, …) is only persisting its last write: wait for it
 * instead of answering SERVER_BUSY to a client that saw the settled state and acted on it.
 */
export async function awaitSettling(server: Server): Promise<void> {
  const holder = server.lock.current;
  const settled =
    (!isActive(server.state) && server.state !== 'installing') || (holder === 'start' && server.state === 'running');
  if (holder && settled) {
    await Promise.race([server.lock.settled(), sleep(5_000)]);
  }
}

function refuseUnstartable(server: Server): void {
  const state = server.state;
  if (state === 'installing' || state === 'install_failed' || state === 'suspended') {
    throw new AgentError('INVALID_STATE', `server ${server.id} cannot start while ${state}`, { status: state });
  }
}

/** Attaches the console before starting, so no early line is lost, then starts the container. */
async function launch(deps: PowerDeps, server: Server, signal: AbortSignal): Promise<void> {
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
async function adoptRunning(deps: PowerDeps, server: Server, containerId: string): Promise<void> {
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

async function failStart(server: Server, err: unknown): Promise<void> {
  server.pending = undefined;
  const error = server.reportFailure('start', err);
  if (server.state === 'starting') {
    await server.transition('offline', { reason: error.code === 'PORT_CONFLICT' ? 'port_conflict' : 'crash' });
  }
}

async function startServer(deps: PowerDeps, server: Server, reason: StateReason = 'requested'): Promise<ServerState> {
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

function toPending(options: StopOptions) {
  return { signal: options.signal, timeoutS: options.timeoutS };
}

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
  const container = await deps.runtime.findContainer(server.id);
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
    const container = await deps.runtime.findContainer(server.id);
    return container ? ((await deps.runtime.status(container.id))?.running ?? false) : false;
  } catch {
    return true;
  }
}

/** Runs the ladder and settles the state; used by stop, restart, suspend and boot recovery. */
async function stopAndSettle(
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

async function stopServer(deps: PowerDeps, server: Server, options: StopOptions): Promise<ServerState> {
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

/** SIGKILL now, pre-empting any power action; the container and its files stay. */
async function killServer(deps: PowerDeps, server: Server): Promise<ServerState> {
  if (server.state === 'installing') {
    throw new AgentError('INVALID_STATE', `server ${server.id} is installing; delete it to abort the install`);
  }
  // Let an aborted start finish its in-flight Engine call, or the container could start after our SIGKILL.
  await Promise.race([server.lock.preempt(), sleep(3_000)]);
  server.expectingExit = 'kill';
  try {
    const container = await deps.runtime.findContainer(server.id);
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

async function suspendServer(deps: PowerDeps, server: Server): Promise<ServerState> {
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

async function unsuspendServer(server: Server): Promise<ServerState> {
  if (server.state !== 'suspended') return server.state;
  server.suspended = false;
  await server.transition('offline', { reason: 'requested' });
  return server.state;
}

/** Boot recovery of an acknowledged stop whose container still runs. */
function resumeStop(deps: PowerDeps, server: Server, options: StopOptions): void {
  server.lock.run('stop', async (signal) => {
    await stopAndSettle(deps, server, options, signal, 'offline');
  });
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
