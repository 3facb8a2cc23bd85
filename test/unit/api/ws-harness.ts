import { connect, type Socket } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';
import { type AgentStatus, buildHttpApp } from '../../../src/api/http/app.js';
import { NodeToken } from '../../../src/api/http/auth.js';
import { WsHub } from '../../../src/api/ws/hub.js';
import { wsPlugin } from '../../../src/api/ws/plugin.js';
import { Dispatcher, defineAction } from '../../../src/commands/dispatcher.js';
import { configSchema } from '../../../src/config/schema.js';
import { EventBus } from '../../../src/events/bus.js';
import { type TicketPermission, TicketSigner } from '../../../src/protocol/tickets.js';
import { ServerConsole } from '../../../src/servers/console.js';
import { ServerRegistry } from '../../../src/servers/registry.js';
import { Server } from '../../../src/servers/server.js';
import { limitsSchema, type ServerSpec } from '../../../src/servers/spec.js';
import { ServerStore } from '../../../src/servers/store.js';
import { TestSocket } from '../../helpers/ws-client.js';

/**
 * An in-process agent front end for /api/ws: the real HTTP app, WebSocket plugin, hub, dispatcher, event bus and
 * ticket signer on port 0, with no Docker. The servers in the registry are real `Server` objects in state
 * `offline`; the registered actions only report what they were asked, so a test sees what actually ran.
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export const SERVER_IDS = ['srv-a', 'srv-b'] as const;

export interface Ran {
  action: string;
  serverId: string;
}

export interface WsApp {
  url: string;
  token: NodeToken;
  signer: TicketSigner;
  hub: WsHub;
  /** Every action that ran, in order: what a ticket actually got to do. */
  ran: Ran[];
  internals: { dispatcher: Dispatcher; registry: ServerRegistry };
  open(headers?: Record<string, string>): Promise<TestSocket>;
  /** Opens and authenticates with the node token in a header; resolves after `hello`. */
  openNode(): Promise<TestSocket>;
  close(): Promise<void>;
}

function spec(id: string): ServerSpec {
  const now = new Date().toISOString();
  return {
    id,
    name: id,
    image: 'none',
    startupTemplate: 'true',
    environment: {},
    limits: limitsSchema.parse({}),
    ports: [],
    install: undefined,
    skipScripts: true,
    stopCommand: undefined,
    startupDone: undefined,
    createdAt: now,
    updatedAt: now,
  };
}

export async function startWsApp(
  options: {
    ws?: Record<string, unknown>;
    authFailuresPerMinute?: number;
    /** The post-authentication frame limit of node-token sockets (main passes the HTTP body limit). */
    maxPayloadBytes?: number;
  } = {},
): Promise<WsApp> {
  const token = new NodeToken('t'.repeat(40));
  const config = configSchema.shape.ws.parse({ ...options.ws });
  const bus = new EventBus();
  const registry = new ServerRegistry(new ServerStore('/nonexistent', log));
  for (const id of SERVER_IDS) {
    registry.add(
      new Server(
        {
          version: 1,
          spec: spec(id),
          state: 'offline',
          reason: undefined,
          pending: undefined,
          lastExit: undefined,
          suspended: false,
        },
        {
          bus,
          console: new ServerConsole({ serverId: id, bus, historyLines: 100, historyBytes: 10_000 }),
          persist: async () => undefined,
          aliases: () => [],
          log,
          dataDir: '/nonexistent',
        },
      ),
    );
  }
  const ran: Ran[] = [];
  const record = (action: string, ticket?: TicketPermission) =>
    defineAction({
      name: action,
      scope: 'server',
      mode: 'sync',
      ...(ticket ? { ticket } : {}),
      payload: z.object({}).passthrough(),
      run: async ({ server }) => {
        ran.push({ action, serverId: server.id });
        return { data: { serverId: server.id } };
      },
    });
  const dispatcher = new Dispatcher({ registry, log, replyDeadlineMs: 2_000 }).register([
    // The permissions the real actions declare (test/unit/commands/ticket-permissions.test.ts checks those).
    record('console:command', 'console.command'),
    record('get_server_status', 'console.read'),
    record('start_server', 'power'),
    record('read_file'),
    defineAction({
      name: 'echo_node',
      scope: 'node',
      mode: 'sync',
      payload: z.object({ blob: z.string().optional() }),
      run: async (_ctx, p) => ({ data: { length: p.blob?.length ?? 0 } }),
    }),
  ]);
  const signer = new TicketSigner(token);
  const hub = new WsHub(
    {
      config,
      dispatcher,
      bus,
      registry,
      tickets: signer,
      matchesToken: (candidate) => token.matches(candidate),
      log,
      hello: () => ({
        agentId: 'agt_test',
        nodeId: undefined,
        version: 'test',
        protocolVersion: 1,
        epoch: bus.epoch,
        seq: bus.currentSeq,
        capabilities: { actions: [], events: [] },
      }),
      pong: () => ({ agentStatus: 'healthy' }),
    },
    bus,
  );
  token.onRotate(() => hub.tokenRotated());
  const status: AgentStatus = {
    nodeId: 'node',
    agentId: 'agt_test',
    version: '0.0.0',
    uptimeSeconds: () => 1,
    docker: () => ({ reachable: false, version: undefined }),
    serverCount: () => registry.size,
    readiness: () => ({ ready: true }),
    panelLink: () => 'disabled',
  };
  const { app } = await buildHttpApp({
    token,
    dispatcher,
    status,
    logger: log,
    bodyLimitBytes: options.maxPayloadBytes ?? 4 * 1024 * 1024,
    authFailuresPerMinute: options.authFailuresPerMinute ?? 1_000,
    plugins: [wsPlugin(hub, { allowedOrigins: [], maxPayloadBytes: options.maxPayloadBytes ?? 4 * 1024 * 1024 })],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const opened: TestSocket[] = [];
  const open = async (headers: Record<string, string> = {}) => {
    const socket = new TestSocket(new WebSocket(`${url.replace(/^http/, 'ws')}/api/ws`, { headers }));
    recordClose(socket);
    opened.push(socket);
    await socket.opened;
    return socket;
  };
  return {
    url,
    token,
    signer,
    hub,
    ran,
    internals: { dispatcher, registry },
    open,
    openNode: async () => {
      const socket = await open({ authorization: `Bearer ${token.current()}` });
      await socket.next((f) => f.type === 'hello');
      return socket;
    },
    close: async () => {
      for (const socket of opened) socket.ws.terminate();
      await app.close();
    },
  };
}

const closes = new WeakMap<TestSocket, Promise<{ code: number; reason: string }>>();

function recordClose(socket: TestSocket): void {
  closes.set(
    socket,
    new Promise((resolve) => socket.ws.once('close', (code, reason) => resolve({ code, reason: String(reason) }))),
  );
}

/** The close code and reason of a socket opened by `open`, once it closes. */
export function closeOf(socket: TestSocket): Promise<{ code: number; reason: string }> {
  const closed = closes.get(socket);
  if (!closed) throw new Error('closeOf: a socket not opened by the harness');
  return closed;
}

/**
 * A raw client that upgrades (optionally with a bearer header) and then writes whatever bytes a test wants, for
 * frames no WebSocket library will send: a header that declares 60 MiB followed by a trickle of data.
 */
export async function rawUpgrade(url: string, headers: Record<string, string> = {}): Promise<Socket> {
  const { port, hostname } = new URL(url);
  const socket = connect({ port: Number(port), host: hostname });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    `GET /api/ws HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (chunk) =>
      String(chunk).startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(String(chunk))),
    );
  });
  return socket;
}

/** The header of a masked client text frame that declares `length` payload bytes (64-bit length form). */
export function maskedTextHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  header.writeUInt32BE(0x01020304, 10);
  return header;
}

/** The close code the server sent on a raw socket (its first close frame), or undefined if it just hung up. */
export function rawCloseCode(socket: Socket): Promise<number | undefined> {
  return new Promise((resolve) => {
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      // An unmasked server frame: opcode 0x8 is close, its first two payload bytes the code.
      if (seen.length >= 4 && ((seen[0] as number) & 0x0f) === 0x8) {
        socket.off('data', onData);
        resolve(seen.readUInt16BE(2));
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(undefined));
    socket.once('error', () => undefined);
  });
}

/**
 * The HTTP status of an upgrade attempt (101 when it succeeds). Unlike TestSocket.open, it aborts a refused
 * request, which ws leaves open once an 'unexpected-response' listener exists, so the app can close afterwards.
 */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/ws`, { headers });
    ws.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
