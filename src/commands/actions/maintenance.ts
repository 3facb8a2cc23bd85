import { z } from 'zod';
import { boolish } from '../../protocol/fields.js';
import type { FileAccess } from '../../servers/file-access.js';
import type { ServerManager } from '../../servers/manager.js';
import { reinstallServer } from '../../servers/reinstall.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/** Changing a server after create: update_server, reinstall_server, get_install_log (PROTOCOL.md §4.6). */

export function maintenanceActions(manager: ServerManager, access: FileAccess): ActionDefinition[] {
  return [
    defineAction({
      name: 'update_server',
      scope: 'server',
      mode: 'sync',
      // Any create_server field: the fields are checked by create_server's own schema once laid over the spec.
      payload: z.looseObject({}),
      async run({ server, serverId }, payload) {
        const result = await manager.update(server, payload);
        return {
          message: result.applied === 'live' ? 'update applied' : 'update stored; it takes effect at the next start',
          data: {
            serverId,
            applied: result.applied,
            ...(result.warnings.length ? { warnings: result.warnings } : {}),
            ...(result.unresolved.length ? { unresolved: result.unresolved } : {}),
          },
        };
      },
    }),
    defineAction({
      name: 'reinstall_server',
      scope: 'server',
      mode: 'ack',
      payload: z.object({ wipe: boolish.default(false) }),
      async run({ server, serverId }, p) {
        const status = await reinstallServer(
          server,
          { wipe: p.wipe },
          {
            power: manager.power,
            install: (signal) => manager.installStep(server, signal),
            files: () => access.files(server),
          },
        );
        return { message: 'reinstall accepted', data: { serverId, status } };
      },
    }),
    defineAction({
      name: 'get_install_log',
      scope: 'server',
      mode: 'sync',
      payload: z.object({}),
      async run({ server, serverId }) {
        return { data: { serverId, ...(await manager.installLogs.read(server.id)) } };
      },
    }),
  ];
}
