import { createSocket } from 'node:dgram';
import { type AddressInfo, createServer as tcpServer } from 'node:net';
import Docker from 'dockerode';
import { GameDig } from 'gamedig';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { joinOpenttd } from '../helpers/openttd-client.js';
import { ensureOpenttdImage, OPENTTD_IMAGE } from '../helpers/openttd-image.mjs';
import { TestSocket } from '../helpers/ws-client.js';

/**
 * Game queries against a real dedicated server: OpenTTD 13 from Debian, queried by the agent through gamedig on
 * its published port, joined by a protocol-level client (test/helpers/openttd-client.ts).
 */
const docker = new Docker();
let agent: TestAgent;
const servers: string[] = [];

/** A host port free for both TCP and UDP (OpenTTD serves the game on TCP and its server info on UDP). */
async function freePort(): Promise<number> {
  for (;;) {
    const tcp = tcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '0.0.0.0', resolve));
    const { port } = tcp.address() as AddressInfo;
    const udp = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '0.0.0.0', () => resolve(true));
    });
    udp.close();
    await new Promise((r) => tcp.close(r));
    if (ok) return port;
  }
}

async function status(id: string) {
  return (await agent.command({ action: 'get_server_status', serverId: id })).data;
}

async function players(id: string): Promise<number> {
  return (await agent.command({ action: 'get_server_metrics', serverId: id })).data.players;
}

beforeAll(async () => {
  await ensureOpenttdImage(docker);
  agent = await startTestAgent({ metrics: { queryTimeoutMs: 1000 } });
}, 120_000);

afterAll(async () => {
  for (const id of servers) await agent.command({ action: 'kill_server', serverId: id }).catch(() => undefined);
  for (const id of servers) await agent.command({ action: 'delete_server', serverId: id }).catch(() => undefined);
  await waitFor(
    async () =>
      (await docker.listContainers({ all: true, filters: { label: [`ctrl-alt-play.agent-id=${agent.agentId}`] } }))
        .length === 0,
    'the test containers to be removed',
  ).catch(() => undefined);
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

describe('game queries', () => {
  it('reports a real OpenTTD server online and its players going 0 → 1 → 0 as a client joins and leaves', async () => {
    const id = uuid();
    servers.push(id);
    const port = await freePort();
    const created = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: {
        image: OPENTTD_IMAGE,
        startup: 'openttd -D 0.0.0.0:3979 -x -c /home/container/openttd.cfg',
        ports: [{ port, internal: 3979 }],
        startupDone: 'Map generated, starting game',
        query: { type: 'openttd', intervalSeconds: 5 },
      },
    });
    expect(created).toMatchObject({ success: true });
    await waitForStatus(agent, id, 'offline');
    // Before running, nothing is queried.
    expect((await status(id)).query).toBeUndefined();
    expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
    await waitForStatus(agent, id, 'running', 60_000);

    const online = await waitFor(
      async () => {
        const q = (await status(id)).query;
        return q?.online ? q : undefined;
      },
      'the first answer',
      30_000,
    );
    expect(online).toMatchObject({ online: true, players: 0, maxPlayers: expect.any(Number), name: 'Unnamed Server' });
    expect(online.maxPlayers).toBeGreaterThan(0);
    expect(online.latencyMs).toEqual(expect.any(Number));
    expect(Date.parse(online.at)).not.toBeNaN();
    expect(await players(id)).toBe(0);

    // The revision the client must present is the one the server reports (gamedig, straight at the port).
    const info = await new GameDig().query({ type: 'openttd', host: '127.0.0.1', port, givenPortOnly: true });
    const client = await joinOpenttd('127.0.0.1', port, (info as unknown as { version: string }).version);
    try {
      await waitFor(async () => (await players(id)) === 1, 'players to be 1 in get_server_metrics', 20_000);
      expect((await status(id)).query).toMatchObject({ online: true, players: 1 });
    } finally {
      await client.close();
    }
    await waitFor(async () => (await players(id)) === 0, 'players to be 0 again', 20_000);
    expect((await status(id)).query).toMatchObject({ online: true, players: 0 });

    // Stopped: the answers are forgotten, not shown as stale figures.
    await agent.command({ action: 'stop_server', serverId: id, payload: { timeout: 5 } });
    await waitForStatus(agent, id, 'offline', 30_000);
    expect((await status(id)).query).toBeUndefined();
    expect(await players(id)).toBe(0);
  }, 180_000);

  it('sends one query_failed after three failures in a row, and an unknown type fails with a clear lastError', async () => {
    const silent = uuid();
    const unknown = uuid();
    servers.push(silent, unknown);
    const socket = await TestSocket.open(agent.url, { authorization: `Bearer ${agent.token}` });
    try {
      await socket.request({ type: 'subscribe', id: 's1', servers: [silent, unknown], events: ['daemon_message'] });
      for (const [id, type] of [
        [silent, 'openttd'],
        [unknown, 'no-such-game'],
      ] as const) {
        const r = await agent.command({
          action: 'create_server',
          serverId: id,
          // Nothing in the container answers on the port: every query times out.
          payload: {
            image: TEST_IMAGE,
            startup: 'sleep 1000',
            ports: [{ port: await freePort() }],
            query: { type, intervalSeconds: 5 },
          },
        });
        expect(r).toMatchObject({ success: true });
        await waitForStatus(agent, id, 'offline');
        await agent.command({ action: 'start_server', serverId: id });
        await waitForStatus(agent, id, 'running');
      }
      const isNotice = (id: string) => (f: Record<string, any>) =>
        f.type === 'event' && f.event === 'daemon_message' && f.data.serverId === id && f.data.code === 'query_failed';

      const notice = await socket.next(isNotice(unknown), 20_000);
      expect(notice.data.message).toContain('unknown query type "no-such-game"');
      const st = await status(unknown);
      expect(st.lastError).toMatchObject({ action: 'query', code: 'INVALID_PAYLOAD' });
      expect(st.lastError.message).toContain('no-such-game');
      expect(st.query).toMatchObject({ online: false, players: 0, latencyMs: null });

      const failed = await socket.next(isNotice(silent), 40_000);
      expect(failed.data).toMatchObject({ level: 'warning', failures: 3 });
      expect((await status(silent)).query).toMatchObject({ online: false, failures: 3 });
      // Once per streak: the fourth failure sends nothing more.
      await waitFor(async () => (await status(silent)).query?.failures >= 4, 'a fourth failure', 20_000);
      expect(socket.frames.filter(isNotice(silent))).toHaveLength(1);
      expect(await players(silent)).toBe(0);
    } finally {
      socket.close();
    }
  }, 120_000);
});
