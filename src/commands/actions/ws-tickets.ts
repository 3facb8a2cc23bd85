import { z } from 'zod';
import { integer } from '../../protocol/fields.js';
import { TICKET_PERMISSIONS, type TicketSigner } from '../../protocol/tickets.js';
import { type ActionDefinition, defineAction } from '../dispatcher.js';

/**
 * create_ws_ticket (X): the panel, holding the node token, asks for a short-lived ticket that lets a browser open
 * /api/ws for one server with the named permissions only.
 */
export function ticketActions(signer: TicketSigner, maxTtlSeconds: number): ActionDefinition[] {
  return [
    defineAction({
      name: 'create_ws_ticket',
      scope: 'server',
      mode: 'sync',
      payload: z.object({
        permissions: z.array(z.enum(TICKET_PERMISSIONS)).min(1).default(['console.read']),
        ttlSeconds: integer
          .refine((n) => n >= 10 && n <= maxTtlSeconds, `ttlSeconds must be 10-${maxTtlSeconds}`)
          .default(Math.min(300, maxTtlSeconds)),
      }),
      async run({ server }, p) {
        const permissions = [...new Set(p.permissions)];
        const { ticket, expiresAt } = signer.mint(server.id, permissions, p.ttlSeconds);
        return { data: { serverId: server.id, ticket, expiresAt, permissions } };
      },
    }),
  ];
}
