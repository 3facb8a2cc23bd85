import '../../lazy-modules.js';
import { createRequire } from 'node:module';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Dispatcher } from '../../commands/dispatcher.js';
import { AgentError, type ErrorCode } from '../../errors.js';
import { httpError, httpErrorBody, httpReplyBody } from '../../protocol/wire-error.js';
import { PROTOCOL_VERSION } from '../../version.js';
import { AuthFailureLimiter, NodeToken, tokenFromHeaders } from './auth.js';

/** What the status endpoints report; implemented in main.ts from the live object graph. */
export interface AgentStatus {
  nodeId: string;
  agentId: string;
  version: string;
  uptimeSeconds(): number;
  docker(): { reachable: boolean; version: string | undefined };
  serverCount(): number;
  readiness(): { ready: true } | { ready: false; reason: 'starting' | 'docker_unreachable' };
  /** `unknown` until the first ping settles; without it /health derives the field from docker().reachable. */
  dockerState?(): 'unknown' | 'reachable' | 'unreachable';
  /** Why the node is degraded (/health `degraded`), beside the fields the panel reads; empty when it is not. */
  degraded?(): ('docker_unreachable' | 'panel_link_down')[];
  panelLink(): 'disabled' | 'connecting' | 'open' | 'established';
}

export interface HttpAppOptions {
  /** The node token; a NodeToken when it can be rotated while the agent runs. */
  token: string | NodeToken;
  dispatcher: Dispatcher;
  status: AgentStatus;
  logger: Logger;
  bodyLimitBytes: number;
  authFailuresPerMinute: number;
  https?: { cert: Buffer; key: Buffer } | undefined;
  /** Plugins registered after the core routes (the WebSocket and file-streaming routes). */
  plugins?: ((app: FastifyInstance, helpers: HttpHelpers) => Promise<void>)[];
}

export interface HttpHelpers {
  /** True when the request carries the node token. */
  isAuthorized(request: FastifyRequest): boolean;
  isShuttingDown(): boolean;
  /** Failed authentications per address: HTTP 401s and /api/ws auth frames count in the same limiter. */
  authFailures: AuthFailureLimiter;
}

/**
 * Fastify builds its JSON-schema compilers (ajv and fast-json-stringify, about 100 modules) at start-up. The
 * agent's routes validate with zod and declare no schemas, so the compilers are loaded from Fastify's own
 * dependencies only if a schema ever needs one.
 */
type SchemaCompilers = NonNullable<FastifyServerOptions['schemaController']>['compilersFactory'];

function lazySchemaCompilers() {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const lazy = (name: string) => {
    let factory: ((...args: unknown[]) => unknown) | undefined;
    return (...args: unknown[]) => {
      factory ??= (fromFastify(name) as () => (...args: unknown[]) => unknown)();
      return factory(...args);
    };
  };
  return {
    buildValidator: lazy('@fastify/ajv-compiler'),
    buildSerializer: lazy('@fastify/fast-json-stringify-compiler'),
  };
}

const PUBLIC_PATHS = new Set(['/health', '/ready']);

function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  const { status, body } = httpError(new AgentError(code, message), 'command');
  return reply.code(status).send(body);
}

/** Builds the listener of PROTOCOL.md §2: /health, /ready, /api/status, /api/command, plus plugins. */
export async function buildHttpApp(options: HttpAppOptions): Promise<{ app: FastifyInstance; beginShutdown(): void }> {
  const app = createFastify(options);
  const token = typeof options.token === 'string' ? new NodeToken(options.token) : options.token;
  let shuttingDown = false;
  const helpers: HttpHelpers = {
    isAuthorized: (request) => token.matches(tokenFromHeaders(request.headers)),
    isShuttingDown: () => shuttingDown,
    authFailures: new AuthFailureLimiter(options.authFailuresPerMinute),
  };
  addGuardHooks(app, helpers);
  addErrorHandlers(app, options.bodyLimitBytes);
  addStatusRoutes(app, options.status);
  addCommandRoute(app, options.dispatcher);
  for (const plugin of options.plugins ?? []) await plugin(app, helpers);
  return {
    app,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}

function createFastify(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request logs would be one line per panel poll; failures are logged where they happen instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    keepAliveTimeout: 65_000,
    requestTimeout: 120_000,
    return503OnClosing: false,
    schemaController: { compilersFactory: lazySchemaCompilers() as SchemaCompilers },
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;
  // Slowloris guard: a client gets 10 s to send its headers.
  app.server.headersTimeout = 10_000;
  // Bodies are kept raw and parsed by the route: the panel sends JSON as application/json, text/plain or with
  // no type at all, and a GET probe may carry `Content-Type: application/json` with no body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  return app;
}

/** Security headers on every reply, then the one auth check (PROTOCOL.md §2.1), and the refused-upgrade clean-up. */
function addGuardHooks(app: FastifyInstance, helpers: HttpHelpers): void {
  const limiter = helpers.authFailures;
  app.addHook('onRequest', async (request, reply) => {
    reply.headers({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'cache-control': 'no-store',
    });
    const path = request.url.split('?')[0] ?? '';
    if (PUBLIC_PATHS.has(path)) return;
    if (helpers.isShuttingDown()) return sendError(reply, 'SHUTTING_DOWN', 'the agent is shutting down');
    const hasCredentials = Boolean(request.headers.authorization || request.headers['x-api-key']);
    const address = request.ip;
    // Checked before the WebSocket exemption below: an address that failed too often (over HTTP or with /api/ws
    // auth frames) does not get to upgrade and try again with frames.
    const blocked = limiter.isBlocked(address);
    // WebSocket upgrades may authenticate with their first frame instead (PROTOCOL.md §6.5), and signed file URLs
    // carry their own signature, which the file routes verify.
    if (path === '/api/ws' && !hasCredentials && !blocked) return;
    if (path.startsWith('/api/servers/') && !hasCredentials && request.url.includes('signature=')) return;
    if (blocked) return sendError(reply, 'RATE_LIMITED', 'too many failed authentications; retry later');
    if (!helpers.isAuthorized(request)) {
      limiter.recordFailure(address);
      reply.header('www-authenticate', 'Bearer');
      return sendError(reply, 'AUTH_FAILED', 'unauthorized');
    }
  });

  // A WebSocket upgrade refused here (401, 429, 503) never reaches @fastify/websocket's own onRequest hook, so its
  // onResponse clean-up skips the socket. Node's HTTP server keeps sockets half-open and has detached this one
  // from its parser: without this, every refused upgrade would hold a socket until the peer goes away.
  app.addHook('onResponse', async (request) => {
    if (request.raw.headers.upgrade) request.raw.socket.destroy();
  });
}

function addErrorHandlers(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return sendError(reply, 'PAYLOAD_TOO_LARGE', `request body exceeds ${bodyLimitBytes} bytes`);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'BAD_REQUEST', err.message);
    }
    request.log.error({ err }, 'unhandled error in HTTP route');
    // Not an action's failure (those are 200 with success:false) but a route that threw: a real 500.
    return reply.code(500).send(httpErrorBody(new AgentError('INTERNAL_ERROR', 'internal error')));
  });

  app.setNotFoundHandler((request, reply) => {
    const known = ['/health', '/ready', '/api/status', '/api/command'];
    const path = request.url.split('?')[0] ?? '';
    if (known.includes(path))
      return sendError(reply, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}`);
    return sendError(reply, 'NOT_FOUND', `no route ${request.method} ${path}`);
  });
}

/** /health, /ready and /api/status (PROTOCOL.md §2.2), read from the live object graph. */
function addStatusRoutes(app: FastifyInstance, status: AgentStatus): void {
  // `status` stays "healthy" and `connected` true whatever is degraded: the panel adopts (and keeps) an agent only
  // on exactly those values (PROTOCOL.md §2.2), so "degraded" there would make it drop a node whose API still
  // answers and whose servers may still run, and hide the Docker trouble it could otherwise show. The trouble
  // goes in `docker` and `degraded`, which the panel ignores and operators' probes can read.
  app.get('/health', async () => {
    const docker = status.docker();
    return {
      status: 'healthy',
      nodeId: status.nodeId,
      version: status.version,
      protocolVersion: PROTOCOL_VERSION,
      uptime: status.uptimeSeconds(),
      connected: true,
      timestamp: new Date().toISOString(),
      docker: status.dockerState?.() ?? (docker.reachable ? 'reachable' : 'unreachable'),
      degraded: status.degraded?.() ?? [],
    };
  });

  app.get('/ready', async (_request, reply) => {
    const readiness = status.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  app.get('/api/status', async () => ({
    online: true,
    version: status.version,
    protocolVersion: PROTOCOL_VERSION,
    uptime: status.uptimeSeconds(),
    serverCount: status.serverCount(),
    lastSeen: new Date().toISOString(),
    nodeId: status.nodeId,
    agentId: status.agentId,
    docker: status.docker(),
    panelLink: status.panelLink(),
  }));
}

/** POST /api/command: every parsed command gets HTTP 200, its success or failure in the body (PROTOCOL.md §2.3). */
function addCommandRoute(app: FastifyInstance, dispatcher: Dispatcher): void {
  app.post('/api/command', async (request, reply) => {
    const raw = request.body;
    const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
    if (text.trim() === '')
      return sendError(reply, 'BAD_REQUEST', 'the request body is empty; expected a JSON command');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return sendError(reply, 'BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`);
    }
    const result = await dispatcher.dispatch(body, request.log as unknown as Logger);
    return reply.code(200).header('content-type', 'application/json; charset=utf-8').send(httpReplyBody(result));
  });
}
