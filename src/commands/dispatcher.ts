import type { Logger } from 'pino';
import type { z } from 'zod';
import { AgentError, toAgentError } from '../errors.js';
import { logFailure } from '../log-policy.js';
import { type Command, type CommandId, extractId, normalizeCommand } from '../protocol/envelope.js';
import { describeIssues, isValidServerId } from '../protocol/fields.js';
import type { Reply } from '../protocol/reply.js';
import type { TicketPermission } from '../protocol/tickets.js';
import type { ServerRegistry } from '../servers/registry.js';
import type { Server } from '../servers/server.js';

/**
 * The one dispatcher behind every transport (PROTOCOL.md §1): normalise → validate → resolve id → run.
 * Handlers are small modules of `ActionDefinition`s; transports only turn `Reply` into their wire shape.
 */

/**
 * How the reply relates to the work (PROTOCOL.md §3): sync, answered when done; ack, validated and accepted, finished
 * in the background (the outcome arrives as events); bg, sync up to a limit, then an operation id and
 * operation_completed. Each action's own run() carries it out; the dispatcher publishes it to clients through the
 * OpenAPI document (`x-mode`), the one place a client reads it.
 */
export type ActionMode = 'sync' | 'ack' | 'bg';
/** server: needs a known server; new-server: a valid id that may not exist yet (create); node: no server. */
export type ActionScope = 'server' | 'new-server' | 'node';

export interface ActionContext {
  /** The resolved server (scope "server"). */
  server: Server;
  /** The id exactly as received; replies echo it (PROTOCOL.md §4). */
  serverId: string;
  signal: AbortSignal;
  log: Logger;
}

export interface ActionResult {
  data?: Record<string, unknown>;
  message?: string;
}

export interface ActionDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  scope: ActionScope;
  mode: ActionMode;
  /**
   * The permission a browser ticket needs to run this action (PROTOCOL.md §6.6); absent: ticket sockets may not
   * run it at all. Declared on the action itself, so a new action can never be reachable by a ticket by accident.
   */
  ticket?: TicketPermission;
  payload: S;
  run(ctx: ActionContext, payload: z.output<S>): Promise<ActionResult>;
}

/** Keeps the payload type of each definition while letting modules export plain arrays. */
export function defineAction<S extends z.ZodType>(def: ActionDefinition<S>): ActionDefinition {
  return def as unknown as ActionDefinition;
}

/**
 * A transport's policy over a command (a browser ticket's permissions and server). It runs on the normalised
 * command, after action aliases are resolved and `payload.serverId`/`data.serverId` are folded into `serverId`,
 * so it judges exactly the action and server that would run; an error it returns is the reply.
 */
export type CommandGuard = (command: Command) => AgentError | undefined;

export interface DispatcherOptions {
  registry: ServerRegistry;
  log: Logger;
  replyDeadlineMs: number;
  /** Last resort for an unknown id (the panel alias lookup); the registry is asked again afterwards. */
  resolveUnknown?: (id: string) => Promise<void>;
}

export class Dispatcher {
  private readonly actions = new Map<string, ActionDefinition>();

  constructor(private readonly options: DispatcherOptions) {}

  register(definitions: readonly ActionDefinition[]): this {
    for (const def of definitions) {
      if (this.actions.has(def.name)) throw new Error(`action ${def.name} registered twice`);
      this.actions.set(def.name, def);
    }
    return this;
  }

  get actionNames(): string[] {
    return [...this.actions.keys()].sort();
  }

  /** The ticket permission an action needs (undefined: not allowed to tickets, or no such action). */
  ticketPermission(action: string): TicketPermission | undefined {
    return this.actions.get(action)?.ticket;
  }

  /** Every registered action, sorted by name (the OpenAPI document is generated from their payload schemas). */
  get definitions(): readonly ActionDefinition[] {
    return this.actionNames.map((name) => this.actions.get(name) as ActionDefinition);
  }

  /** Never throws: every failure becomes a Reply with a catalogue error. */
  async dispatch(body: unknown, log: Logger = this.options.log, guard?: CommandGuard): Promise<Reply> {
    const id = extractId(body);
    const withId = <T extends object>(reply: T): T & { id?: CommandId } =>
      id === undefined ? reply : { id, ...reply };
    let action = '(unparsed)';
    try {
      const command = normalizeCommand(body);
      action = command.action;
      const denied = guard?.(command);
      if (denied) throw denied;
      const def = this.actions.get(command.action);
      if (!def) throw new AgentError('UNKNOWN_ACTION', `unknown action "${command.action}"`);
      const parsed = def.payload.safeParse(command.payload);
      if (!parsed.success) throw new AgentError('INVALID_PAYLOAD', describeIssues(parsed.error));
      const { server, serverId } = await this.resolveServer(def, command.serverId);
      const result = await this.runWithDeadline(def, parsed.data, server, serverId, log);
      return withId({ success: true as const, ...result });
    } catch (err) {
      const error = toAgentError(err);
      logFailure(log, error, 'action failed', 'request', { action });
      return withId({ success: false as const, error });
    }
  }

  private async resolveServer(
    def: ActionDefinition,
    raw: unknown,
  ): Promise<{ server: Server | undefined; serverId: string }> {
    if (def.scope === 'node') return { server: undefined, serverId: typeof raw === 'string' ? raw : '' };
    if (raw === undefined || raw === null || raw === '') {
      throw new AgentError('INVALID_SERVER_ID', 'serverId: required for this action');
    }
    if (!isValidServerId(raw)) {
      throw new AgentError(
        'INVALID_SERVER_ID',
        'serverId: must be 1-64 characters of letters, digits, "_", "." or "-", starting with a letter or digit',
      );
    }
    if (def.scope === 'new-server') return { server: this.options.registry.find(raw), serverId: raw };
    if (!this.options.registry.find(raw) && this.options.resolveUnknown) await this.options.resolveUnknown(raw);
    return { server: this.options.registry.resolve(raw), serverId: raw };
  }

  private async runWithDeadline(
    def: ActionDefinition,
    payload: unknown,
    server: Server | undefined,
    serverId: string,
    log: Logger,
  ): Promise<ActionResult> {
    const controller = new AbortController();
    const ms = this.options.replyDeadlineMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new AgentError('TIMEOUT', `${def.name} did not finish within ${Math.round(ms / 1000)} s`);
        controller.abort(error);
        reject(error);
      }, ms);
    });
    try {
      const ctx: ActionContext = {
        server: server as Server,
        serverId,
        signal: controller.signal,
        log: server ? log.child({ serverId: server.id }) : log,
      };
      return await Promise.race([def.run(ctx, payload), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
