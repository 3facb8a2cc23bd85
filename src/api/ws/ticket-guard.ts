import type { CommandGuard } from '../../commands/dispatcher.js';
import { AgentError } from '../../errors.js';
import type { TicketClaims, TicketPermission } from '../../protocol/tickets.js';
import type { ServerRegistry } from '../../servers/registry.js';

/**
 * What a browser ticket may run: only the actions its permissions name, only on its own server, and only until it
 * expires. A guard for Dispatcher.dispatch, so it judges the normalised command (aliases resolved, a
 * `payload.serverId` folded in) rather than the envelope as sent: `send_server_command` is `console:command`
 * here, and a server named only in the payload is the server that would run.
 */
export function ticketGuard(
  claims: TicketClaims,
  registry: Pick<ServerRegistry, 'find'>,
  /** The permission each action declares (Dispatcher.ticketPermission). */
  permissionOf: (action: string) => TicketPermission | undefined,
  now: () => number = Date.now,
): CommandGuard {
  return (command) => {
    if (claims.exp * 1000 <= now()) return new AgentError('AUTH_FAILED', 'the ticket has expired');
    const needed = permissionOf(command.action);
    if (!needed || !claims.perms.includes(needed)) {
      return new AgentError('PERMISSION_DENIED', `this ticket does not allow ${command.action}`);
    }
    // The dispatcher resolves the same id with the same registry lookup, with no await in between.
    const serverId = typeof command.serverId === 'string' ? command.serverId : undefined;
    if (!serverId || registry.find(serverId)?.id !== claims.sid) {
      return new AgentError('PERMISSION_DENIED', 'this ticket is for another server');
    }
    return undefined;
  };
}
