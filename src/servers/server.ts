import type { Logger } from 'pino';
import { AgentError, toAgentError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { logFailure } from '../log-policy.js';
import type { ServerConsole } from './console.js';
import { PowerLock } from './power-lock.js';
import type { ServerSpec } from './spec.js';
import { canTransition, type ServerState, type StateReason } from './state.js';
import type { PendingPower, PersistedServer } from './store.js';

export interface TransitionDetails {
  reason?: StateReason;
  exitCode?: number;
  oomKilled?: boolean;
  /** Boot reconciliation and deletion set states the table would not allow from a stale record. */
  force?: boolean;
}

export interface ServerDeps {
  bus: EventBus;
  console: ServerConsole;
  persist: (record: PersistedServer) => Promise<void>;
  aliases: () => string[];
  log: Logger;
  dataDir: string;
}

/**
 * One game server: its spec, its state (changed only through `transition`, which checks the table, persists
 * and emits `server_status_changed`), its power lock and its console.
 */
export class Server {
  spec: ServerSpec;
  readonly console: ServerConsole;
  readonly lock: PowerLock;
  readonly log: Logger;
  readonly dataDir: string;
  private stateValue: ServerState;
  private reasonValue: StateReason | undefined;
  pending: PendingPower | undefined;
  lastExit: PersistedServer['lastExit'];
  suspended: boolean;
  /** When the current run of the container started (ISO), if running. */
  startedAt: string | undefined;
  /** The running container and its init pid, known from start or reattach, so metrics need no Engine call. */
  running: { containerId: string; pid: number } | undefined;
  /**
   * The id of the server's container as last created or found: a hint that saves a container list per lookup,
   * verified by an inspect by id each time it is used (container.ts findServerContainer). Not persisted.
   */
  containerId: string | undefined;
  /** Set while the agent itself is stopping or killing the container, so the exit is not a crash. */
  expectingExit: 'stop' | 'kill' | undefined;
  /** The last background action that failed (start, stop, install, …): get_server_status shows it, since a failed
   * start settles as `offline` with reason `crash` (the closed reason list of PROTOCOL.md §6.2). Not persisted. */
  lastError: { action: string; code: string; message: string; at: string; lastLines?: string[] } | undefined;
  /** Set once delete has begun: no further transitions or persistence. */
  deleted = false;
  /** Unsubscribes the console watchers of the current run (egg features such as `eula`); replaced at each start. */
  private stopRunWatch: (() => void) | undefined;
  private readonly deps: ServerDeps;

  constructor(record: PersistedServer, deps: ServerDeps) {
    this.spec = record.spec;
    this.stateValue = record.state;
    this.reasonValue = record.reason;
    this.pending = record.pending;
    this.lastExit = record.lastExit;
    this.suspended = record.suspended;
    this.console = deps.console;
    this.log = deps.log;
    this.lock = new PowerLock((err, action) => this.log.error({ err, action }, 'background power action failed'));
    this.dataDir = deps.dataDir;
    this.deps = deps;
  }

  get id(): string {
    return this.spec.id;
  }

  get state(): ServerState {
    return this.stateValue;
  }

  get reason(): StateReason | undefined {
    return this.reasonValue;
  }

  get aliases(): string[] {
    return this.deps.aliases();
  }

  toRecord(): PersistedServer {
    return {
      version: 1,
      spec: this.spec,
      state: this.stateValue,
      reason: this.reasonValue,
      pending: this.pending,
      lastExit: this.lastExit,
      suspended: this.suspended,
    };
  }

  async persist(): Promise<void> {
    if (this.deleted) return;
    await this.deps.persist(this.toRecord());
  }

  /** Applies a transition: checks the table, persists, emits the event. Returns false for a no-op. */
  async transition(to: ServerState, details: TransitionDetails = {}): Promise<boolean> {
    if (this.deleted) return false;
    const from = this.stateValue;
    if (from === to) return false;
    if (!details.force && !canTransition(from, to)) {
      throw new AgentError('INVALID_STATE', `server ${this.id} cannot go from ${from} to ${to}`, { from, to });
    }
    this.stateValue = to;
    this.reasonValue = details.reason;
    if (details.exitCode !== undefined) {
      this.lastExit = {
        exitCode: details.exitCode,
        oomKilled: details.oomKilled ?? false,
        at: new Date().toISOString(),
      };
    }
    if (to !== 'running' && to !== 'starting' && to !== 'stopping') {
      this.startedAt = undefined;
      this.running = undefined;
    }
    this.log.info({ from, to, reason: details.reason, exitCode: details.exitCode }, 'state changed');
    this.deps.bus.publish('server_status_changed', this.id, {
      aliases: this.aliases,
      previousStatus: from,
      currentStatus: to,
      ...(details.reason ? { reason: details.reason } : {}),
      ...(details.exitCode !== undefined ? { exitCode: details.exitCode } : {}),
      ...(details.oomKilled !== undefined ? { oomKilled: details.oomKilled } : {}),
    });
    await this.persist();
    return true;
  }

  /** Logs a background failure by the log policy and tells the console and subscribers; returns the error. */
  reportFailure(what: string, err: unknown): AgentError {
    const error = toAgentError(err);
    // A failed install script's last output lines travel with its reason (PROTOCOL.md §4.6).
    const tail = error.details?.lastLines;
    const extra = Array.isArray(tail) ? { lastLines: tail.map(String) } : {};
    this.lastError = { action: what, code: error.code, message: error.message, at: new Date().toISOString(), ...extra };
    logFailure(this.log, error, `${what} failed`, 'background');
    this.notice('error', `${what} failed: ${error.message}`, extra);
    return error;
  }

  /** Replaces the previous run's console watcher, so each start has one and none outlives the next start. */
  watchRun(stop: (() => void) | undefined): void {
    this.stopRunWatch?.();
    this.stopRunWatch = stop;
  }

  /** An agent notice: to the console (prefixed) and as a daemon_message event. */
  notice(level: 'info' | 'warning' | 'error', message: string, extra: Record<string, unknown> = {}): void {
    this.console.append('agent', [message]);
    this.deps.bus.publish('daemon_message', this.id, { level, message, ...extra });
  }
}
