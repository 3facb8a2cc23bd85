import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AgentStatus, buildHttpApp } from '../../../src/api/http/app.js';
import { Dispatcher, defineAction } from '../../../src/commands/dispatcher.js';
import { ServerRegistry } from '../../../src/servers/registry.js';
import { ServerStore } from '../../../src/servers/store.js';

const TOKEN = 'a'.repeat(40);
const log = pino({ level: 'silent' });
const status: AgentStatus = {
  nodeId: 'cm3x9k2ab0001',
  agentId: 'agt_x',
  version: '1.0.0',
  uptimeSeconds: () => 5,
  docker: () => ({ reachable: false, version: undefined }),
  serverCount: () => 0,
  readiness: () => ({ ready: false, reason: 'docker_unreachable' }),
  panelLink: () => 'disabled',
  dockerState: () => 'unreachable',
  degraded: () => ['docker_unreachable'],
};

let built: Awaited<ReturnType<typeof buildHttpApp>>;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  const dispatcher = new Dispatcher({
    registry: new ServerRegistry(new ServerStore('/nonexistent', log)),
    log,
    replyDeadlineMs: 200,
  }).register([
    defineAction({
      name: 'echo_node',
      scope: 'node',
      mode: 'sync',
      payload: z.object({ n: z.number().optional() }),
      run: async (_ctx, p) => ({ data: { n: p.n ?? null } }),
    }),
    defineAction({
      name: 'ping_server',
      scope: 'server',
      mode: 'sync',
      payload: z.object({}),
      run: async ({ serverId }) => ({ data: { serverId } }),
    }),
    defineAction({
      name: 'slow_node',
      scope: 'node',
      mode: 'sync',
      payload: z.object({}),
      run: () => new Promise(() => undefined),
    }),
  ]);
  built = await buildHttpApp({
    token: TOKEN,
    dispatcher,
    status,
    logger: log,
    bodyLimitBytes: 16 * 1024,
    authFailuresPerMinute: 10,
  });
});

afterAll(async () => {
  await built.app.close();
});

describe('GET /health', () => {
  it('answers 200 without auth, with exactly the keys the panel reads plus docker and degraded', async () => {
    const res = await built.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(
      [
        'connected',
        'degraded',
        'docker',
        'nodeId',
        'protocolVersion',
        'status',
        'timestamp',
        'uptime',
        'version',
      ].sort(),
    );
    // Degraded, yet `status` and `connected` keep the values the panel adopts an agent on (PROTOCOL.md §2.2).
    expect(body).toMatchObject({
      status: 'healthy',
      connected: true,
      nodeId: 'cm3x9k2ab0001',
      protocolVersion: 1,
      uptime: 5,
      docker: 'unreachable',
      degraded: ['docker_unreachable'],
    });
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('/ready reports why it is not ready, without auth', async () => {
    const res = await built.app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ready: false, reason: 'docker_unreachable' });
  });
});

describe('auth', () => {
  it('refuses a missing or wrong token with 401 JSON and WWW-Authenticate', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await built.app.inject({ method: 'GET', url: '/api/status', headers, remoteAddress: '10.9.9.1' });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toEqual({ success: false, error: 'unauthorized', code: 'AUTH_FAILED' });
    }
  });

  it('accepts X-API-Key', async () => {
    const res = await built.app.inject({ method: 'GET', url: '/api/status', headers: { 'x-api-key': TOKEN } });
    expect(res.statusCode).toBe(200);
  });

  it('answers 429 after more than 10 failures a minute from one address, even with the right token', async () => {
    const remoteAddress = '10.9.9.2';
    for (let i = 0; i < 11; i++) await built.app.inject({ method: 'GET', url: '/api/status', remoteAddress });
    const res = await built.app.inject({ method: 'GET', url: '/api/status', headers: auth, remoteAddress });
    expect(res.statusCode).toBe(429);
    expect(res.json().code).toBe('RATE_LIMITED');
    const other = await built.app.inject({
      method: 'GET',
      url: '/api/status',
      headers: auth,
      remoteAddress: '10.9.9.3',
    });
    expect(other.statusCode).toBe(200);
  });
});

describe('GET /api/status', () => {
  it('reports online:true with numeric uptime and serverCount', async () => {
    const res = await built.app.inject({
      method: 'GET',
      url: '/api/status',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(res.json()).toMatchObject({
      online: true,
      uptime: 5,
      serverCount: 0,
      panelLink: 'disabled',
      docker: { reachable: false },
    });
  });
});

describe('POST /api/command', () => {
  async function post(payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
    return built.app.inject({ method: 'POST', url: '/api/command', headers: { ...auth, ...headers }, payload });
  }

  it('answers 200 with success:false and a string error for unknown actions and servers', async () => {
    const unknown = await post(JSON.stringify({ action: 'frobnicate', id: 'r1' }));
    expect(unknown.statusCode).toBe(200);
    expect(unknown.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(unknown.json()).toEqual({
      id: 'r1',
      success: false,
      error: 'unknown action "frobnicate"',
      code: 'UNKNOWN_ACTION',
    });
  });

  it('parses text/plain and untyped bodies as JSON', async () => {
    expect((await post('{"action":"echo_node","payload":{"n":1}}', { 'content-type': 'text/plain' })).json()).toEqual({
      success: true,
      data: { n: 1 },
    });
    expect((await post('{"action":"echo_node"}', {})).json()).toMatchObject({ success: true });
  });

  it('answers 400 for an empty or unparseable body, 413 past the limit', async () => {
    const empty = await post('');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('BAD_REQUEST');
    const broken = await post('{"action":');
    expect(broken.statusCode).toBe(400);
    expect(typeof broken.json().error).toBe('string');
    const big = await post(JSON.stringify({ action: 'echo_node', pad: 'x'.repeat(20_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('names the field at fault for a wrong type', async () => {
    const res = await post(JSON.stringify({ action: 'echo_node', payload: { n: 'x' } }));
    expect(res.json()).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    expect(res.json().error).toContain('payload.n');
  });

  it('refuses malformed server ids with INVALID_SERVER_ID and unknown ones with SERVER_NOT_FOUND', async () => {
    for (const serverId of ['../x', 'x'.repeat(10_000), 42, 'a b']) {
      const res = await post(JSON.stringify({ action: 'ping_server', serverId }));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ success: false, code: 'INVALID_SERVER_ID' });
      expect(res.json().error).toContain('serverId');
    }
    const missing = await post(JSON.stringify({ action: 'ping_server', serverId: '' }));
    expect(missing.json()).toMatchObject({ success: false, code: 'INVALID_SERVER_ID' });
    const unknown = await post(JSON.stringify({ action: 'ping_server', serverId: 'cm3y0q7rt0004' }));
    expect(unknown.json()).toEqual({
      success: false,
      error: 'server cm3y0q7rt0004 not found on this node',
      code: 'SERVER_NOT_FOUND',
    });
  });

  it('answers TIMEOUT when a handler passes the deadline', async () => {
    const res = await post(JSON.stringify({ action: 'slow_node' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: false, code: 'TIMEOUT' });
  });
});

describe('routing', () => {
  it('answers 404 and 405 as JSON', async () => {
    const missing = await built.app.inject({ method: 'GET', url: '/nope', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOT_FOUND');
    const wrong = await built.app.inject({ method: 'GET', url: '/api/command', headers: auth });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.json().code).toBe('METHOD_NOT_ALLOWED');
  });

  it('answers 503 SHUTTING_DOWN once shutdown begins, but /health still answers', async () => {
    built.beginShutdown();
    const res = await built.app.inject({
      method: 'POST',
      url: '/api/command',
      headers: auth,
      payload: '{"action":"echo_node"}',
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('SHUTTING_DOWN');
    expect((await built.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});

describe('schema compilers', () => {
  it('loads Fastify’s JSON-schema compilers only when a route declares a schema, and they still work', async () => {
    const app = await buildHttpApp({
      token: TOKEN,
      dispatcher: new Dispatcher({
        registry: new ServerRegistry(new ServerStore('/nonexistent', log)),
        log,
        replyDeadlineMs: 1000,
      }),
      status,
      logger: log,
      bodyLimitBytes: 16 * 1024,
      authFailuresPerMinute: 10,
      plugins: [
        async (fastify) => {
          fastify.get(
            '/api/schema-probe',
            {
              schema: {
                querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
                response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
              },
            },
            async (request) => ({ n: (request.query as { n: number }).n, dropped: 'by the serializer' }),
          );
        },
      ],
    });
    const ok = await app.app.inject({ method: 'GET', url: '/api/schema-probe?n=7', headers: auth });
    expect(ok.json()).toEqual({ n: 7 });
    const bad = await app.app.inject({ method: 'GET', url: '/api/schema-probe?n=x', headers: auth });
    expect(bad.json()).toMatchObject({ success: false, code: 'BAD_REQUEST' });
    await app.app.close();
  });
});
