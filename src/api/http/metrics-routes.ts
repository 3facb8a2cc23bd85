import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { EXPOSITION_CONTENT_TYPE } from '../../metrics/prometheus-text.js';
import { AuthFailureLimiter, tokenFromHeaders } from './auth.js';

// `import http from 'node:http'` in ESM reads Node 24's lazy http.WebSocket exports and loads the bundled undici
// (see src/lazy-modules.ts); require() does not.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/**
 * GET /metrics on the main listener. Its onRequest hook already asks for the node token (Bearer or X-API-Key) and
 * counts failures in the same limiter as every other route, so nothing here checks credentials.
 */
export function metricsRoute(render: () => string) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', EXPOSITION_CONTENT_TYPE).send(render()),
    );
  };
}

export interface MetricsListenerOptions {
  /** "host:port", e.g. "127.0.0.1:9464" (config `metrics.listen`). */
  listen: string;
  /** The node-token check; undefined when `metrics.auth` is false. */
  matches: ((candidate: string | undefined) => boolean) | undefined;
  authFailuresPerMinute: number;
  render: () => string;
  log: Logger;
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/** Splits "host:port" and "[v6]:port". */
export function parseListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(at + 1)) };
}

/**
 * A listener of its own for Prometheus, apart from the panel's (config `metrics.listen`): plain HTTP, one route,
 * no body read. It is bounded like the main listener: 10 s for headers, 16 sockets, and failed authentications
 * per address are limited the same way.
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const limiter = new AuthFailureLimiter(options.authFailuresPerMinute);
  const server = http.createServer((request, response) => {
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        ...headers,
      });
      response.end(body);
    };
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') return send(404, 'not found: this listener serves GET /metrics only\n');
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(405, 'method not allowed\n', { allow: 'GET' });
    if (options.matches) {
      const address = request.socket.remoteAddress ?? '';
      if (limiter.isBlocked(address)) return send(429, 'too many failed authentications; retry later\n');
      if (!options.matches(tokenFromHeaders(request.headers))) {
        limiter.recordFailure(address);
        return send(401, 'unauthorized\n', { 'www-authenticate': 'Bearer' });
      }
    }
    try {
      send(200, options.render(), { 'content-type': EXPOSITION_CONTENT_TYPE });
    } catch (err) {
      options.log.error({ err }, 'rendering /metrics failed');
      send(500, 'internal error\n');
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 16;
  const { host, port } = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => options.log.error({ err }, 'metrics listener error'));
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  options.log.info({ host, port: bound, auth: Boolean(options.matches) }, 'metrics listening');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
