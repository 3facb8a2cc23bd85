import { z } from 'zod';
import { AgentError } from '../../errors.js';
import type { QueryStatus } from '../../metrics/query-scheduler.js';
import { boolish, integer, isValidServerId } from '../../protocol/fields.js';
import type { ServerManager } from '../../servers/manager.js';
import { DEFAULT_STOP, type PowerController } from '../../servers/power.js';
import type { Server } from '../../servers/server.js';
import { createServerPayload } from '../../servers/spec.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** Lifecycle and power actions (PROTOCOL.md §4.1). */

const SIGNALS = ['TERM', 'INT', 'QUIT', 'HUP', 'USR1', 'USR2', 'ABRT', 'KILL'] as const;

export const signalField = z
  .string()
  .transform((s) => s.trim().toUpperCase().replace(/^SIG/, ''))
  .refine((s): s is (typeof SIGNALS)[number] => (SIGNALS as readonly string[]).includes(s), {
    message: `signal must be one of ${SIGNALS.join(', ')} (SIG prefix optional)`,
  })
  .transform((s) => `SIG${s}`);

const timeoutField = integer.refine((n) => n >= 0 && n <= 3600, 'timeout must be an integer from 0 to 3600 seconds');

const stopPayload = z.object({
  signal: signalField.default(DEFAULT_STOP.signal),
  timeout: timeoutField.default(DEFAULT_STOP.timeoutS),
});

const empty = z.object({});

function statusData(serverId: string, status: string) {
  return { data: { serverId, status } };
}

export function describeServer(server: Server) {
  return {
    serverId: server.id,
    aliases: server.aliases,
    name: server.spec.name,
    status: server.state,
    image: server.spec.image,
    limits: server.spec.limits,
    ...(server.reason ? { reason: server.reason } : {}),
  };
}

export function lifecycleActions(
  manager: ServerManager,
  queries?: { status(serverId: string): QueryStatus | undefined },
): ActionDefinition[] {
  return [
    ...createActions(manager),
    ...powerActions(manager.power),
    ...serviceActions(manager),
    ...statusActions(manager, queries),
  ];
}

function createActions(manager: ServerManager): ActionDefinition[] {
  return [
    defineAction({
      name: 'create_server',
      scope: 'new-server',
      mode: 'ack',
      payload: createServerPayload,
      async run({ serverId }, payload) {
        const result = await manager.create(serverId, payload);
        const warnings = [...result.warnings, ...(payload.eggWarnings ?? [])];
        return {
          message: 'create accepted',
          data: {
            serverId,
            status: result.status,
            ...(warnings.length ? { warnings } : {}),
            ...(result.unresolved.length ? { unresolved: result.unresolved } : {}),
          },
        };
      },
    }),
  ];
}

/** The power actions a browser ticket with `power` may run too (PROTOCOL.md §6.6). */
function powerActions(power: PowerController): ActionDefinition[] {
  return [
    defineAction({
      name: 'start_server',
      scope: 'server',
      ticket: 'power',
      mode: 'ack',
      payload: empty,
      async run({ server, serverId }) {
        return { message: 'start accepted', ...statusData(serverId, await power.start(server)) };
      },
    }),
    // A restart is a stop (same signal and timeout) followed by a start.
    ...(['stop', 'restart'] as const).map((verb) =>
      defineAction({
        name: `${verb}_server`,
        scope: 'server',
        ticket: 'power',
        mode: 'ack',
        payload: stopPayload,
        async run({ server, serverId }, p) {
          const status = await power[verb](server, { signal: p.signal, timeoutS: p.timeout });
          return { message: `${verb} accepted`, ...statusData(serverId, status) };
        },
      }),
    ),
    defineAction({
      name: 'kill_server',
      scope: 'server',
      ticket: 'power',
      mode: 'ack',
      payload: empty,
      async run({ server, serverId }) {
        return { message: 'killed', ...statusData(serverId, await power.kill(server)) };
      },
    }),
  ];
}

/** Taking a server out of service: deleting it, suspending it (stopped, and refusing starts) and back. */
function serviceActions(manager: ServerManager): ActionDefinition[] {
  const { power } = manager;
  return [
    defineAction({
      name: 'delete_server',
      scope: 'server',
      mode: 'ack',
      payload: z.object({ keepFiles: boolish.default(false) }),
      async run({ server, serverId }, p) {
        await manager.delete(server, p.keepFiles);
        return { message: 'delete accepted', data: { serverId, status: 'deleting' } };
      },
    }),
    defineAction({
      name: 'suspend_server',
      scope: 'server',
      mode: 'ack',
      payload: empty,
      async run({ server, serverId }) {
        return statusData(serverId, await power.suspend(server));
      },
    }),
    defineAction({
      name: 'unsuspend_server',
      scope: 'server',
      mode: 'sync',
      payload: empty,
      async run({ server, serverId }) {
        return statusData(serverId, await power.unsuspend(server));
      },
    }),
  ];
}

/** What the panel reads of servers (one's status, the list) and the names it knows them by. */
function statusActions(
  manager: ServerManager,
  queries: { status(serverId: string): QueryStatus | undefined } | undefined,
): ActionDefinition[] {
  const { registry } = manager;
  return [
    defineAction({
      name: 'get_server_status',
      scope: 'server',
      ticket: 'console.read',
      mode: 'sync',
      payload: empty,
      async run({ server, serverId }) {
        const uptime = server.startedAt
          ? Math.max(0, Math.floor((Date.now() - Date.parse(server.startedAt)) / 1000))
          : 0;
        return {
          data: {
            serverId,
            status: server.state,
            uptime,
            ...(server.startedAt ? { startedAt: server.startedAt } : {}),
            ...(server.reason ? { reason: server.reason } : {}),
            ...(server.lastExit ? { exitCode: server.lastExit.exitCode, oomKilled: server.lastExit.oomKilled } : {}),
            ...(server.lock.current ? { busy: server.lock.current } : {}),
            ...(server.lastError ? { lastError: server.lastError } : {}),
            ...(queries?.status(server.id) ? { query: queries.status(server.id) } : {}),
            crashRestarts: manager.exits.budget(server.id),
          },
        };
      },
    }),
    defineAction({
      name: 'list_servers',
      scope: 'node',
      mode: 'sync',
      payload: empty,
      async run() {
        return { data: { servers: registry.list().map(describeServer) } };
      },
    }),
    defineAction({
      name: 'add_alias',
      scope: 'server',
      mode: 'sync',
      payload: z.object({ alias: z.string() }),
      async run({ server }, p) {
        if (!isValidServerId(p.alias)) throw new AgentError('INVALID_PAYLOAD', 'payload.alias: not a valid server id');
        await registry.addAlias(p.alias, server.id);
        return { data: { serverId: server.id, aliases: server.aliases } };
      },
    }),
  ];
}
