import { z } from 'zod';
import { AgentError } from '../../errors.js';
import type { ServerContext } from '../../servers/context.js';
import type { Server } from '../../servers/server.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** Console actions of the pull model (PROTOCOL.md §4.5); all sync. */

const MAX_COMMAND_CHARS = 4096;
const DEFAULT_LINES = 100;

const empty = z.object({});

/**
 * `lines` may be NaN-derived, negative, huge or not a number at all (§8 quirk 14): clamp to 1…capacity, and
 * anything that is not a finite number means the default.
 */
export function clampLines(raw: unknown, capacity: number): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n)) return Math.min(DEFAULT_LINES, capacity);
  return Math.max(1, Math.min(capacity, Math.floor(n)));
}

const linesPayload = z.object({ lines: z.unknown().optional() });

/** One trailing newline is stripped; any other CR or LF is refused so one command cannot smuggle a second. */
export function normalizeConsoleCommand(raw: string): string {
  const command = raw.replace(/\r?\n$/, '');
  if (command.length === 0) throw new AgentError('INVALID_PAYLOAD', 'payload.command: must not be empty');
  if (command.length > MAX_COMMAND_CHARS) {
    throw new AgentError('INVALID_PAYLOAD', `payload.command: at most ${MAX_COMMAND_CHARS} characters`);
  }
  if (/[\r\n]/.test(command)) {
    throw new AgentError('INVALID_PAYLOAD', 'payload.command: must be a single line (no CR or LF)');
  }
  return command;
}

function requireRunning(server: Server): void {
  if (server.state !== 'running' && server.state !== 'starting') {
    throw new AgentError('SERVER_NOT_RUNNING', `server ${server.id} is ${server.state}; start it first`, {
      status: server.state,
    });
  }
}

function writeOrFail(server: Server, input: string): void {
  requireRunning(server);
  if (!server.console.write(input)) {
    throw new AgentError('SERVER_NOT_RUNNING', `server ${server.id} has no console attached; it may be stopping`);
  }
}

function connectedData(server: Server) {
  return { connected: server.console.attached && server.state !== 'offline' };
}

/**
 * Every console action, in three groups: whether the console is connected, what is sent into it, and the buffer
 * of lines it keeps. Only the interrupt reads the domain (a signal to the container).
 */
export function consoleActions(ctx: Pick<ServerContext, 'runtime'>): ActionDefinition[] {
  return [...connectionActions(), ...inputActions(ctx), ...bufferActions()];
}

function connectionActions(): ActionDefinition[] {
  return [
    defineAction({
      name: 'console:status',
      scope: 'server',
      ticket: 'console.read',
      mode: 'sync',
      payload: empty,
      async run({ server }) {
        return {
          data: {
            ...connectedData(server),
            lastActivity: server.console.lastActivity?.toISOString() ?? null,
            bufferSize: server.console.size,
          },
        };
      },
    }),
    // The agent stays attached while a server runs; connect and disconnect only report that.
    ...(['console:connect', 'console:disconnect'] as const).map((name) =>
      defineAction({
        name,
        scope: 'server',
        mode: 'sync',
        payload: empty,
        async run({ server }) {
          return { data: connectedData(server) };
        },
      }),
    ),
  ];
}

/** A command line, raw input, and Ctrl-C (SIGINT to the container). */
function inputActions(ctx: Pick<ServerContext, 'runtime'>): ActionDefinition[] {
  return [
    defineAction({
      name: 'console:command',
      scope: 'server',
      ticket: 'console.command',
      mode: 'sync',
      payload: z.object({ command: z.string() }),
      async run({ server }, p) {
        const command = normalizeConsoleCommand(p.command);
        writeOrFail(server, `${command}\n`);
        return { data: { sent: true } };
      },
    }),
    defineAction({
      name: 'console:input',
      scope: 'server',
      ticket: 'console.command',
      mode: 'sync',
      payload: z.object({
        input: z
          .string()
          .min(1)
          .refine((s) => Buffer.byteLength(s) <= MAX_COMMAND_CHARS, `at most ${MAX_COMMAND_CHARS} bytes`),
      }),
      async run({ server }, p) {
        writeOrFail(server, p.input);
        return { data: { sent: true } };
      },
    }),
    defineAction({
      name: 'console:interrupt',
      scope: 'server',
      mode: 'sync',
      payload: empty,
      async run({ server }) {
        requireRunning(server);
        const container = await ctx.runtime.findContainer(server.id);
        if (!container) throw new AgentError('SERVER_NOT_RUNNING', `server ${server.id} has no container`);
        await ctx.runtime.kill(container.id, 'SIGINT');
        return { data: { sent: true } };
      },
    }),
  ];
}

/** The lines the agent keeps per server: read under two names, cleared, downloaded, and the buffer's size. */
function bufferActions(): ActionDefinition[] {
  return [
    // The same lines under the two names the panel uses: `history` (console:history) and `logs` (get_server_logs).
    ...(
      [
        ['console:history', 'history'],
        ['get_server_logs', 'logs'],
      ] as const
    ).map(([name, key]) =>
      defineAction({
        name,
        scope: 'server',
        mode: 'sync',
        ticket: 'console.read',
        payload: linesPayload,
        async run({ server }, p) {
          const lines = server.console.lines(clampLines(p.lines, server.console.capacity));
          return { data: { [key]: lines, lines: lines.length } };
        },
      }),
    ),
    defineAction({
      name: 'console:clear',
      scope: 'server',
      mode: 'sync',
      payload: empty,
      async run({ server }) {
        server.console.clear();
        return { data: { cleared: true } };
      },
    }),
    defineAction({
      name: 'console:download',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ format: z.string().default('txt') }),
      async run({ server }, p) {
        const lines = server.console.lines(server.console.capacity);
        // The panel answers 500 on an empty `content` (§8 quirk 13): an empty text download is "\n".
        const content = p.format === 'json' ? JSON.stringify(lines) : `${lines.join('\n')}\n`;
        return { data: { content, format: p.format === 'json' ? 'json' : 'txt', lines: lines.length } };
      },
    }),
    defineAction({
      name: 'console:settings:get',
      scope: 'server',
      mode: 'sync',
      payload: empty,
      async run({ server }) {
        return { data: { settings: { bufferSize: server.console.capacity } } };
      },
    }),
    defineAction({
      name: 'console:settings:update',
      scope: 'server',
      mode: 'sync',
      payload: z.object({
        settings: z.object({ bufferSize: z.coerce.number().int().min(1000).max(100_000).optional() }).loose(),
      }),
      async run({ server }, p) {
        if (p.settings.bufferSize !== undefined) {
          server.console.resize(p.settings.bufferSize);
          server.spec = { ...server.spec, consoleBufferLines: server.console.capacity };
          await server.persist();
        }
        return { data: { settings: { bufferSize: server.console.capacity } } };
      },
    }),
  ];
}
