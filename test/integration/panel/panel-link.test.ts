import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { prepareDataDir, removeDataDir, startTestAgent, type TestAgent, uuid, waitFor } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

/** A stand-in panel: a real WebSocket server in the test process that records what the agent sends. */
class FakePanel {
  readonly frames: Record<string, any>[] = [];
  readonly requests: IncomingMessage[] = [];
  socket: WebSocket | undefined;
  private server: WebSocketServer | undefined;
  private https: HttpsServer | undefined;

  constructor(private readonly onConnect: (panel: FakePanel, socket: WebSocket) => void = () => undefined) {}

  /** Listens on plain ws://, or on wss:// when given a certificate and key. */
  async listen(port = 0, tls?: { cert: string; key: string }): Promise<number> {
    let server: WebSocketServer;
    if (tls) {
      const https = createHttpsServer(tls);
      this.https = https;
      await new Promise<void>((resolve) => https.listen(port, '127.0.0.1', resolve));
      server = new WebSocketServer({ server: https });
    } else {
      server = new WebSocketServer({ host: '127.0.0.1', port });
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    }
    server.on('connection', (socket, request) => {
      this.socket = socket;
      this.requests.push(request);
      socket.on('message', (data) => this.frames.push(JSON.parse(String(data))));
      this.onConnect(this, socket);
    });
    this.server = server;
    return ((this.https ?? server).address() as AddressInfo).port;
  }

  send(frame: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify(frame));
  }

  async next(match: (f: Record<string, any>) => boolean, what: string, timeoutMs = 20_000) {
    return waitFor(async () => this.frames.find(match), what, timeoutMs);
  }

  async close(): Promise<void> {
    for (const client of this.server?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    this.https?.closeAllConnections();
    await new Promise<void>((resolve) => (this.https ? this.https.close(() => resolve()) : resolve()));
    this.https = undefined;
  }
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function agentFor(
  port: number,
  extra: Record<string, unknown> = {},
  prepared?: Awaited<ReturnType<typeof prepareDataDir>>,
) {
  const p = prepared ?? (await prepareDataDir());
  const agent = await startTestAgent(
    { panel: { url: `http://127.0.0.1:${port}`, ...extra }, nodeId: 'cm3x9k2ab0001' },
    p,
  );
  cleanup.push(async () => {
    await agent.stop();
    if (!prepared) await removeDataDir(p.dataDir);
  });
  return agent;
}

const status = async (agent: TestAgent) =>
  (
    (await (
      await fetch(`${agent.url}/api/status`, { headers: { authorization: `Bearer ${agent.token}` } })
    ).json()) as { panelLink: string }
  ).panelLink;

describe('outbound panel link', () => {
  it('dials with its identity, says hello, answers each command once and pushes events once established', async () => {
    const panel = new FakePanel((p) => p.send({ type: 'welcome', id: 'h', since: undefined }));
    const port = await panel.listen();
    cleanup.push(() => panel.close());
    const agent = await agentFor(port);
    const hello = await panel.next((f) => f.type === 'hello', 'hello');
    expect(hello).toBeDefined();
    expect(hello).toMatchObject({ agentId: agent.agentId, nodeId: 'cm3x9k2ab0001', protocolVersion: 1 });
    expect(hello?.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(hello?.capabilities.actions).toContain('create_server');
    const request = panel.requests[0] as IncomingMessage;
    expect(request.url).toBe('/ws/agents?nodeId=cm3x9k2ab0001');
    expect(request.headers.authorization).toBe(`Bearer ${agent.token}`);
    expect(request.headers['x-agent-id']).toBe(agent.agentId);
    expect(request.headers['user-agent']).toMatch(/^ctrl-alt-play-agent\//);
    await waitFor(async () => (await status(agent)) === 'established', 'established');

    const id = uuid();
    const command = {
      type: 'command',
      id: 'c1',
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE },
    };
    panel.send(command);
    const first = await panel.next((f) => f.type === 'response' && f.id === 'c1', 'the response');
    expect(first).toMatchObject({ success: true, data: { status: 'installing' } });
    // A retry with the same id (as after a reconnect) gets the same answer; executing it again would have
    // answered SERVER_BUSY (re-create while installing).
    panel.send(command);
    const responses = await waitFor(async () => {
      const r = panel.frames.filter((f) => f.type === 'response' && f.id === 'c1');
      return r.length === 2 ? r : undefined;
    }, 'the repeated response');
    expect(responses?.[1]).toEqual(first);
    await panel.next(
      (f) => f.type === 'event' && f.event === 'server_status_changed' && f.data.currentStatus === 'offline',
      'install event',
    );
    panel.send({ type: 'ping', id: 'p1' });
    const pong = await panel.next((f) => f.type === 'pong' && f.id === 'p1', 'pong');
    expect(pong?.data.agentStatus).toBe('healthy');
  });

  it('keeps working with the panel down, connects when it appears, and never treats the mock socket as established', async () => {
    // Reserve a port, then leave it closed: the panel is down at agent start.
    const probe = new FakePanel();
    const port = await probe.listen();
    await probe.close();
    const agent = await agentFor(port, { silenceTimeoutMs: 1500, pingIntervalMs: 500 });
    expect(await status(agent)).toBe('connecting');
    expect((await agent.command({ action: 'list_servers' })).success).toBe(true);

    // Today's panel: a mock console socket that never speaks the protocol.
    const mock = new FakePanel((p) => {
      p.send({ type: 'console', data: 'hello' });
      p.send({ type: 'stats', data: {} });
    });
    await mock.listen(port);
    cleanup.push(() => mock.close());
    await mock.next((f) => f.type === 'hello', 'hello to the mock', 30_000);
    expect(await status(agent)).not.toBe('established');
    // Liveness closes it (4408) and the agent redials: a second connection arrives.
    await waitFor(async () => mock.requests.length >= 2, 'a redial after the liveness timeout', 30_000);
    expect(await status(agent)).not.toBe('established');
  });

  it('resumes after the panel restarts: the events it missed arrive once, in order', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    let lastSeq = 0;
    const first = new FakePanel((p) => p.send({ type: 'welcome', id: 'h' }));
    const port = await first.listen();
    const agent = await agentFor(port, {}, prepared);
    await waitFor(async () => (await status(agent)) === 'established', 'established');
    const a = uuid();
    await agent.command({ action: 'create_server', serverId: a, payload: { image: TEST_IMAGE } });
    const seen = await first.next(
      (f) => f.type === 'event' && f.serverId === a && f.data.currentStatus === 'offline',
      'first events',
    );
    lastSeq = seen?.seq;
    const epoch = (first.frames.find((f) => f.type === 'hello') as { epoch: string }).epoch;
    await first.close();

    // While the panel is away: another server is created and deleted.
    const b = uuid();
    await agent.command({ action: 'create_server', serverId: b, payload: { image: TEST_IMAGE } });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: b })).data?.status === 'offline',
      'b installed',
    );

    const second = new FakePanel((p) => p.send({ type: 'welcome', id: 'h', since: { epoch, seq: lastSeq } }));
    await second.listen(port);
    cleanup.push(() => second.close());
    const offline = await second.next(
      (f) => f.type === 'event' && f.serverId === b && f.data.currentStatus === 'offline',
      'missed events',
      30_000,
    );
    const replayed = second.frames.filter((f) => f.type === 'event' && typeof f.seq === 'number');
    const seqs = replayed.map((f) => f.seq);
    expect(seqs[0]).toBe(lastSeq + 1);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(offline?.seq).toBeGreaterThan(lastSeq);
  });

  it('keeps its epoch and seq across an agent restart during an outage, so nothing is lost', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const first = new FakePanel((p) => p.send({ type: 'welcome', id: 'h' }));
    const port = await first.listen();
    let agent = await startTestAgent({ panel: { url: `http://127.0.0.1:${port}` } }, prepared);
    await waitFor(async () => (await status(agent)) === 'established', 'established');
    const hello = first.frames.find((f) => f.type === 'hello') as { epoch: string; seq: number };
    await first.close();

    const a = uuid();
    await agent.command({ action: 'create_server', serverId: a, payload: { image: TEST_IMAGE } });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: a })).data?.status === 'offline',
      'a installed',
    );
    await agent.stop(); // the agent restarts while the panel is still away
    agent = await startTestAgent({ panel: { url: `http://127.0.0.1:${port}` } }, prepared);
    cleanup.push(() => agent.stop());
    const b = uuid();
    await agent.command({ action: 'create_server', serverId: b, payload: { image: TEST_IMAGE } });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: b })).data?.status === 'offline',
      'b installed',
    );

    const second = new FakePanel((p) =>
      p.send({ type: 'welcome', id: 'h', since: { epoch: hello.epoch, seq: hello.seq } }),
    );
    await second.listen(port);
    cleanup.push(() => second.close());
    const helloAgain = await second.next((f) => f.type === 'hello', 'hello after restart', 30_000);
    expect(helloAgain?.epoch).toBe(hello.epoch);
    await second.next(
      (f) => f.type === 'event' && f.serverId === b && f.data.currentStatus === 'offline',
      'b events',
      30_000,
    );
    const events = second.frames.filter((f) => f.type === 'event' && typeof f.seq === 'number');
    const seqs = events.map((f) => f.seq as number);
    expect(seqs[0]).toBe(hello.seq + 1);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(events.some((f) => f.serverId === a && f.data.currentStatus === 'offline')).toBe(true);
  });
});

describe('outbound panel link over TLS', () => {
  it('dials wss:// trusting the configured CA file, and refuses the same panel without it', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const keyFile = path.join(prepared.dataDir, 'panel-key.pem');
    const caFile = path.join(prepared.dataDir, 'panel-ca.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        caFile,
      ]),
      { stdio: 'ignore' },
    );
    const panel = new FakePanel((p) => p.send({ type: 'welcome', id: 'h' }));
    const port = await panel.listen(0, { cert: readFileSync(caFile, 'utf8'), key: readFileSync(keyFile, 'utf8') });
    cleanup.push(() => panel.close());

    const untrusting = await startTestAgent({ panel: { url: `https://127.0.0.1:${port}` } });
    cleanup.push(async () => {
      await untrusting.stop();
      await removeDataDir(untrusting.dataDir);
    });
    const trusting = await agentFor(port, { url: `https://127.0.0.1:${port}`, caFile }, prepared);
    const hello = await panel.next((f) => f.type === 'hello' && f.agentId === trusting.agentId, 'hello over wss');
    expect(hello).toBeDefined();
    await waitFor(async () => (await status(trusting)) === 'established', 'established over wss');
    expect(panel.frames.some((f) => f.agentId === untrusting.agentId)).toBe(false);
    expect(await status(untrusting)).not.toBe('established');
  });
});
