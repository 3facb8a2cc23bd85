import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ticketGuard } from '../../../src/api/ws/ticket-guard.js';
import { ACTION_ALIASES } from '../../../src/protocol/envelope.js';
import { TICKET_PERMISSIONS, type TicketClaims } from '../../../src/protocol/tickets.js';
import { SERVER_IDS, startWsApp, type WsApp } from './ws-harness.js';

let app: WsApp;
beforeAll(async () => {
  app = await startWsApp();
});
afterAll(() => app.close());

describe('ticketGuard', { timeout: 10_000 }, () => {
  it('lets nothing run that the ticket does not allow, whatever the envelope (property)', async () => {
    const { dispatcher, registry } = app.internals;
    const log = pino({ level: 'silent' });
    const actions = [
      ...Object.keys(ACTION_ALIASES),
      'console:command',
      'get_server_status',
      'start_server',
      'read_file',
      'echo_node',
      'list_servers',
    ];
    const serverId = fc.oneof(fc.constantFrom(...SERVER_IDS), fc.constant(undefined), fc.string({ maxLength: 8 }));
    const place = fc.record({ top: serverId, payload: serverId, data: serverId }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...actions),
        place,
        fc.subarray([...TICKET_PERMISSIONS], { minLength: 1 }),
        fc.constantFrom(...SERVER_IDS),
        async (action, where, perms, sid) => {
          const body: Record<string, unknown> = { action };
          if ('top' in where) body.serverId = where.top;
          if ('payload' in where) body.payload = { serverId: where.payload };
          if ('data' in where) body.data = { serverId: where.data };
          const before = app.ran.length;
          const claims: TicketClaims = { sid, perms, exp: Math.floor(Date.now() / 1000) + 60 };
          const reply = await dispatcher.dispatch(
            body,
            log,
            ticketGuard(claims, registry, (a) => dispatcher.ticketPermission(a)),
          );
          for (const ran of app.ran.slice(before)) {
            expect(ran.serverId).toBe(sid);
            const needed = dispatcher.ticketPermission(ran.action);
            expect(needed && perms.includes(needed)).toBe(true);
          }
          if (reply.success) expect(app.ran.length).toBe(before + 1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
