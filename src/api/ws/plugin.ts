import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { AgentError } from '../../errors.js';
import { errorBody, type HttpHelpers } from '../http/app.js';
import type { WsHub } from './hub.js';

/**
 * The inbound WebSocket route (PROTOCOL.md §6.5). A bearer header on the upgrade authenticates at once (the
 * app's auth hook has already refused a wrong one with 401); otherwise the first frame must. Browsers are
 * refused unless their Origin is allowed, and tokens in the query string are refused outright (they end up in
 * proxy logs).
 */
export function wsPlugin(hub: WsHub, options: { allowedOrigins: readonly string[]; maxPayloadBytes: number }) {
  return async (app: FastifyInstance, helpers: HttpHelpers): Promise<void> => {
    await app.register(websocket, {
      options: { maxPayload: options.maxPayloadBytes },
      preClose: async () => hub.closeAll(),
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
              .send(errorBody(new AgentError('PERMISSION_DENIED', `origin ${origin} is not allowed`)));
          }
          const query = request.query as Record<string, unknown>;
          if (query.token !== undefined || query.ticket !== undefined) {
            return reply
              .code(400)
              .send(
                errorBody(
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
        hub.accept(socket, helpers.isAuthorized(request) ? { kind: 'node' } : undefined);
      },
    );
  };
}
