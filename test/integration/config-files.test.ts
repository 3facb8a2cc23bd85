import { type AddressInfo, createServer as tcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';

/**
 * Config files are rewritten before every start (PROTOCOL.md §4.6), on a real Engine: the game prints its files
 * when it starts, so the console shows what it read. It then changes its port the way a game's own setup would;
 * the next start puts the panel's value back.
 */
let agent: TestAgent;
const created: string[] = [];

beforeAll(async () => {
  agent = await startTestAgent();
});

afterAll(async () => {
  for (const id of created) await agent.command({ action: 'delete_server', serverId: id }).catch(() => undefined);
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = tcpServer().listen(0, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function history(id: string): Promise<string[]> {
  return (await agent.command({ action: 'console:history', serverId: id })).data.history;
}

/** The lines the game printed in its latest run, from its last `begin` to its `changed`. */
async function latestRun(id: string, runs: number): Promise<string[]> {
  return waitFor<string[] | undefined>(async () => {
    const lines = await history(id);
    if (lines.filter((l) => l === 'changed').length < runs) return undefined;
    const begin = lines.lastIndexOf('begin');
    return lines.slice(begin, lines.lastIndexOf('changed') + 1);
  }, `run ${runs} of the game to print its files`) as Promise<string[]>;
}

describe('config files before every start', () => {
  it('the game reads the rewritten properties, yaml, json and ini files; a value it changed is rewritten at the next start', async () => {
    const id = uuid();
    created.push(id);
    const port = await freePort();
    const startup = [
      'echo begin',
      'cat server.properties config.yml config.json game.ini',
      "sed -i 's/^server-port=.*/server-port=1/' server.properties",
      'echo changed',
      'sleep 1000',
    ].join('; ');
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: {
        image: TEST_IMAGE,
        startup,
        ports: [{ port }],
        limits: { memory: 256 },
        environment: { MOTD: 'Hello from the panel' },
        denylist: ['secret.ini'],
        configFiles: {
          'server.properties': {
            parser: 'properties',
            find: { 'server-port': '{{server.build.default.port}}', motd: '{{env.MOTD}}', 'enable-query': true },
          },
          'config.yml': {
            parser: 'yaml',
            find: {
              'listeners[0].host': '0.0.0.0:{{server.build.default.port}}',
              'server.memory': '{{server.build.memory}}',
              'server.gateway': '{{config.docker.interface}}',
              'server.token': '{{config.token}}',
            },
          },
          'config.json': {
            parser: 'json',
            find: { 'game.port': '{{server.build.default.port}}', 'game.max_players': 20 },
          },
          'game.ini': { parser: 'ini', find: { 'network.server_port': '{{server.build.default.port}}' } },
          'secret.ini': { parser: 'ini', find: { a: 1 } },
        },
      },
    });
    expect(r).toMatchObject({ success: true });
    await waitForStatus(agent, id, 'offline');

    expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
    const first = await latestRun(id, 1);
    expect(first).toEqual(
      expect.arrayContaining([
        `server-port = ${port}`,
        'motd = Hello from the panel',
        'enable-query = true',
        `  - host: 0.0.0.0:${port}`, // listeners[0] on a new file is a list
        '  memory: "256"',
        '  token: "{{config.token}}"',
        `    "port": "${port}",`,
        '    "max_players": 20',
        '[network]',
        `server_port = ${port}`,
      ]),
    );
    expect(first.some((l) => /^ {2}gateway: \d+\.\d+\.\d+\.\d+$/.test(l))).toBe(true);
    const lines = await history(id);
    expect(lines.some((l) => l.includes('secret.ini was not rewritten') && l.includes('denylist'))).toBe(true);
    expect(lines.some((l) => l.includes('{{config.token}}') && l.includes('not available'))).toBe(true);

    await agent.command({ action: 'kill_server', serverId: id });
    await waitForStatus(agent, id, 'offline');
    expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
    const second = await latestRun(id, 2);
    expect(second).toContain(`server-port = ${port}`);
    expect(second).not.toContain('server-port=1');
    await agent.command({ action: 'kill_server', serverId: id });
  });
});
