import { z } from 'zod';
import type { HostMetrics } from '../../metrics/host-metrics.js';
import type { ServerMetrics } from '../../metrics/server-metrics.js';
import type { ServerContext } from '../../servers/context.js';
import { SERVER_STATES } from '../../servers/state.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** Metrics actions (PROTOCOL.md §4.2). */
export function metricsActions(
  ctx: ServerContext,
  metrics: { servers: ServerMetrics; host: HostMetrics; dockerVersion: () => string | undefined },
): ActionDefinition[] {
  return [
    defineAction({
      name: 'get_server_metrics',
      scope: 'server',
      ticket: 'console.read',
      mode: 'sync',
      payload: z.object({}),
      async run({ server }) {
        return { data: await metrics.servers.sample(server) };
      },
    }),
    defineAction({
      name: 'get_system_metrics',
      scope: 'node',
      mode: 'sync',
      payload: z.object({}),
      async run() {
        const servers = ctx.registry.list();
        const byState = Object.fromEntries(SERVER_STATES.map((s) => [s, 0])) as Record<string, number>;
        for (const server of servers) byState[server.state] = (byState[server.state] ?? 0) + 1;
        return {
          data: {
            ...(await metrics.host.sample()),
            servers: { total: servers.length, running: byState.running ?? 0, byState },
            dockerVersion: metrics.dockerVersion() ?? null,
            timestamp: new Date().toISOString(),
          },
        };
      },
    }),
  ];
}
