import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDataDir, removeDataDir, uuid, waitFor } from '../helpers/agent.js';
import { type AgentProcess, spawnAgent } from '../helpers/agent-process.mjs';
import { TEST_IMAGE } from '../helpers/constants.js';

/**
 * The real agent process driven the way the panel's ExternalAgentService does it: axios-style requests with
 * `Content-Type: application/json` and a bearer token, the uuid for create and power, the database id (an alias)
 * for everything else, and the PROTOCOL.md examples as payloads.
 */
let agent: AgentProcess;
let dataDir: string;
let token: string;
const uuidId = uuid();
const dbId = `cm${uuid().slice(0, 11)}`;

const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
async function send(action: string, serverId: string | undefined, payload: unknown = {}) {
  const res = await fetch(`${agent.url}/api/command`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ action, serverId, payload }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

beforeAll(async () => {
  ({ dataDir, token } = await prepareDataDir());
  agent = await spawnAgent({ AGENT_DATA_DIR: dataDir, AGENT_NODE_ID: 'cm3x9k2ab0001' }, token);
  await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, 'ready');
});

afterAll(async () => {
  await send('kill_server', uuidId).catch(() => undefined);
  agent.child.kill('SIGTERM');
  await agent.exited;
  await removeDataDir(dataDir);
});

describe('as the panel drives it', () => {
  it('passes discovery and registration checks', async () => {
    const health = await fetch(`${agent.url}/health`, { headers: { 'content-type': 'application/json' } });
    const body = (await health.json()) as Record<string, unknown>;
    expect(health.status).toBe(200);
    expect(body.status).toBe('healthy');
    expect(body.connected).not.toBe(false);
    expect(body.nodeId).toBe('cm3x9k2ab0001');
    const status = (await (await fetch(`${agent.url}/api/status`, { headers: headers() })).json()) as Record<
      string,
      unknown
    >;
    expect(status.online).toBe(true);
    expect(typeof status.uptime).toBe('number');
    expect(typeof status.serverCount).toBe('number');
  });

  it('creates with the PROTOCOL.md example, then starts, reads console and metrics by the database id', async () => {
    const created = await send('create_server', uuidId, {
      name: 'My MC',
      image: TEST_IMAGE,
      startup: `sh -c 'trap "exit 0" TERM; echo "Done (3.2s)! For help, type help"; echo mem={{SERVER_MEMORY}} jar={{SERVER_JARFILE}}; while read l; do echo "cmd:$l"; done'`,
      environment: '{"SERVER_JARFILE":"server.jar","EULA":true}',
      limits: { memory: 128, disk: 512, cpu: 100, swap: 0, io: 500 },
      skipScripts: false,
    });
    expect(created).toMatchObject({ success: true, data: { serverId: uuidId, status: 'installing' } });
    await waitFor(async () => (await send('get_server_status', uuidId)).data?.status === 'offline', 'install');
    expect((await send('add_alias', uuidId, { alias: dbId })).success).toBe(true);
    expect(await send('start_server', uuidId)).toMatchObject({ success: true, data: { status: 'starting' } });
    await waitFor(async () => (await send('get_server_status', dbId)).data?.status === 'running', 'running');

    const history = await waitFor(async () => {
      const r = await send('console:history', dbId);
      return r.data.history.some((l: string) => l.includes('mem=128 jar=server.jar')) ? r : undefined;
    }, 'startup output');
    expect(history?.data.lines).toBe(history?.data.history.length);
    expect((await send('console:command', dbId, { command: 'say hi' })).data).toEqual({ sent: true });
    await waitFor(
      async () => (await send('get_server_logs', dbId, { lines: 10 })).data.logs.includes('cmd:say hi'),
      'echo',
    );

    const metrics = await send('get_server_metrics', dbId);
    expect(Object.keys(metrics.data)).toEqual(
      expect.arrayContaining(['cpu', 'memory', 'disk', 'network', 'players', 'timestamp']),
    );
    expect(Number.isInteger(metrics.data.players)).toBe(true);
    const system = await send('get_system_metrics', undefined);
    expect(typeof system.data.memory).toBe('number');
    expect(typeof system.data.disk.used).toBe('number');

    const write = await send('write_file', dbId, { path: '/server.properties', content: 'motd=hi\n' });
    expect(write.data.size).toBe(8);
    const list = await send('list_files', dbId, { path: '/' });
    expect(list.data.files.some((f: { name: string }) => f.name === 'server.properties')).toBe(true);

    const stop = await send('stop_server', uuidId, { signal: 'SIGTERM', timeout: 30 });
    expect(stop).toMatchObject({
      success: true,
      message: 'stop accepted',
      data: { serverId: uuidId, status: 'stopping' },
    });
    await waitFor(async () => (await send('get_server_status', dbId)).data?.status === 'offline', 'stopped', 45_000);
  });

  it('answers unknown servers and actions with HTTP 200 and the documented codes', async () => {
    expect(await send('get_server_status', 'cabc123')).toEqual({
      success: false,
      error: 'server cabc123 not found on this node',
      code: 'SERVER_NOT_FOUND',
    });
    expect((await send('frobnicate', uuidId)).code).toBe('UNKNOWN_ACTION');
  });
});
