import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { AgentError } from '../../errors.js';
import { httpErrorBody } from '../../protocol/wire-error.js';
import type { HttpHelpers } from '../http/app.js';
import type { WsHub } from './hub.js';

/**
 * The inbound WebSocket route (PROTOCOL.md §6.5). A bearer header on the upgrade authenticates at once (the
 * app's auth hook has already refused a wrong one with 401, and an address over the auth-failure limit with 429);
 * otherwise the first frame must. Browsers are refused unless their Origin is allowed, and tokens in the query
 * string are refused outright (they end up in proxy logs).
 *
 * `maxPayloadBytes` is the frame limit of node-token sockets once authenticated; until then, and for ticket
 * sockets, ws enforces the hub's much smaller pre-auth limit from each frame header (see frame-limit.ts).
 */
export function wsPlugin(hub: WsHub, options: { allowedOrigins: readonly string[]; maxPayloadBytes: number }) {
  return async (app: FastifyInstance, helpers: HttpHelpers): Promise<void> => {
    await app.register(websocket, {
      options: { maxPayload: hub.preAuthFrameBytes },
      preClose: async () => hub.closeAll(),
      errorHandler: (err, socket) => {
        // A protocol error (1009 too large, 1007 bad UTF-8…): ws has already sent the close frame and ends the
        // socket itself. Terminating here would reset the connection before the peer reads the close code.
        if ((err as { code?: unknown }).code?.toString().startsWith('WS_ERR_')) return;
        app.log.error({ err }, 'websocket handler failed');
        socket.terminate();
      },
    });
    app.get(
      '/api/ws',
      {
        websocket: true,
        preValidation: async (request, reply) => {
          const origin = request.headers.origin;
          if (origin && !options.allowedOrigins.includes(origin)) {
            return reply
              .code(403)
              .send(httpErrorBody(new AgentError('PERMISSION_DENIED', `origin ${origin} is not allowed`)));
          }
          const query = request.query as Record<string, unknown>;
          if (query.token !== undefined || query.ticket !== undefined) {
            return reply
              .code(400)
              .send(
                httpErrorBody(
                  new AgentError(
                    'BAD_REQUEST',
                    'tokens in the query string are refused; use a header or an auth frame',
                  ),
                ),
              );
          }
        },
      },
      (socket, request) => {
        hub.accept(socket, helpers.isAuthorized(request) ? { kind: 'node' } : undefined, {
          address: request.ip,
          authFailures: helpers.authFailures,
          nodeFrameBytes: options.maxPayloadBytes,
        });
      },
    );
  };
}
