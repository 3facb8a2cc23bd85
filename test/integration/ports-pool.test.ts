import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { labelFilter } from '../helpers/labels.js';

/** allocations.pool and the node-wide port check (PROTOCOL.md §4.6 "Ports pool"), against the real Engine. */

const docker = new Docker();
const FROM = 26400;
const TO = 26409;
let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent({ allocations: { pool: [`${FROM}-${TO}`] } });
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

async function inspect(id: string) {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: labelFilter(agent.agentId, id) },
  });
  return c ? docker.getContainer(c.Id).inspect() : undefined;
}

async function storedPorts(id: string): Promise<{ port: number; protocol: string }[]> {
  const record = JSON.parse(await readFile(path.join(agent.dataDir, 'servers', `${id}.json`), 'utf8'));
  return record.spec.ports;
}

function create(id: string, payload: Record<string, unknown> = {}) {
  return agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, startup: 'sleep 1000', ...payload },
  });
}

async function created(payload: Record<string, unknown> = {}): Promise<{ id: string; port: number }> {
  const id = uuid();
  expect(await create(id, payload)).toMatchObject({ success: true });
  const [binding] = await storedPorts(id);
  expect(binding).toMatchObject({ protocol: 'both' });
  return { id, port: binding?.port as number };
}

describe('ports pool', () => {
  const ids: string[] = [];

  it('gives two servers without ports two different pool ports, TCP and UDP, persisted and published', async () => {
    const a = await created();
    const b = await created();
    ids.push(a.id, b.id);
    expect([a.port, b.port]).toEqual([FROM, FROM + 1]);
    await waitForStatus(agent, a.id, 'offline');
    const info = await inspect(a.id);
    expect(info?.HostConfig.PortBindings).toMatchObject({
      [`${FROM}/tcp`]: [{ HostPort: String(FROM) }],
      [`${FROM}/udp`]: [{ HostPort: String(FROM) }],
    });
    expect(info?.Config.Env).toContain(`SERVER_PORT=${FROM}`);
  });

  it('refuses a port another server holds with PORT_CONFLICT at create and at update, storing nothing', async () => {
    const explicit = uuid();
    const clash = await create(explicit, { ports: [{ port: FROM, protocol: 'udp' }] });
    expect(clash).toMatchObject({ success: false, code: 'PORT_CONFLICT' });
    expect(clash.error).toContain(String(FROM));
    const fromEnv = await create(uuid(), { environment: { SERVER_PORT: String(FROM + 1) } });
    expect(fromEnv).toMatchObject({ success: false, code: 'PORT_CONFLICT' });
    expect((await agent.command({ action: 'get_server_status', serverId: explicit })).code).toBe('SERVER_NOT_FOUND');

    // A port outside the pool that nobody holds is fine, and then held: SERVER_PORT-derived ports count too.
    const own = uuid();
    expect(await create(own, { environment: { SERVER_PORT: '26450' } })).toMatchObject({ success: true });
    ids.push(own);
    expect(await storedPorts(own)).toEqual([]); // published from SERVER_PORT at start, no pool port taken
    const update = await agent.command({
      action: 'update_server',
      serverId: ids[0],
      payload: { ports: [{ port: 26450, protocol: 'tcp' }] },
    });
    expect(update).toMatchObject({ success: false, code: 'PORT_CONFLICT' });
    expect(await storedPorts(ids[0] as string)).toMatchObject([{ port: FROM }]);
  });

  it('never gives the same port to concurrent creates', async () => {
    const batch = [uuid(), uuid(), uuid(), uuid()];
    const replies = await Promise.all(batch.map((id) => create(id)));
    for (const r of replies) expect(r).toMatchObject({ success: true });
    ids.push(...batch);
    const ports = await Promise.all(batch.map(async (id) => (await storedPorts(id))[0]?.port));
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(FROM + 2);
      expect(port).toBeLessThanOrEqual(TO);
    }
  });

  it('frees the port when its server is deleted', async () => {
    const first = ids.shift() as string;
    await waitForStatus(agent, first, 'offline');
    await agent.command({ action: 'delete_server', serverId: first });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: first })).code === 'SERVER_NOT_FOUND',
      'the server to be deleted',
    );
    const next = await created();
    ids.push(next.id);
    expect(next.port).toBe(FROM);
  });

  afterAll(async () => {
    for (const id of ids) {
      await waitForStatus(agent, id, 'offline').catch(() => undefined);
      await agent.command({ action: 'delete_server', serverId: id });
    }
  });
});
