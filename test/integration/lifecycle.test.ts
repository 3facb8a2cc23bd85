import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { LABEL_MANAGED, labelFilter } from '../helpers/labels.js';

const docker = new Docker();
let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent();
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

async function containerOf(serverId: string) {
  const list = await docker.listContainers({
    all: true,
    filters: { label: labelFilter(agent.agentId, serverId) },
  });
  return list[0];
}

describe('server lifecycle against the real Engine', () => {
  it('creates, starts, stops gracefully, kills and deletes a server', async () => {
    const id = uuid();
    const created = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: {
        name: 'busy',
        image: TEST_IMAGE,
        startup: `sh -c "trap 'echo bye; exit 0' TERM; echo ready on {{SERVER_PORT}}; while true; do sleep 0.2; done"`,
        environment: '{"SERVER_PORT":"25599","EULA":true}',
        limits: { memory: 128, disk: 100, cpu: 50, swap: 0, io: 500 },
        skipScripts: false,
      },
    });
    expect(created).toMatchObject({ success: true, data: { serverId: id, status: 'installing' } });
    await waitForStatus(agent, id, 'offline');

    const c = await containerOf(id);
    expect(c).toBeDefined();
    const info = await docker.getContainer(c!.Id).inspect();
    expect(info.HostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(128 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(info.HostConfig.CapDrop).toContain('ALL');
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(info.Config.Env).toContain('SERVER_PORT=25599');
    expect(info.Config.Env).toContain('EULA=true');
    expect(info.Config.Tty).toBe(true);
    expect(info.Config.Labels[LABEL_MANAGED]).toBe('true');

    const started = await agent.command({ action: 'start_server', serverId: id, payload: {} });
    expect(started).toMatchObject({ success: true, data: { serverId: id, status: 'starting' } });
    await waitForStatus(agent, id, 'running');

    const stopped = await agent.command({
      action: 'stop_server',
      serverId: id,
      payload: { signal: 'SIGTERM', timeout: 30 },
    });
    expect(stopped).toMatchObject({ success: true, data: { status: 'stopping' } });
    const after = await waitForStatus(agent, id, 'offline');
    expect(after?.data.exitCode).toBe(0);

    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    const killed = await agent.command({ action: 'kill_server', serverId: id });
    expect(killed).toMatchObject({ success: true, data: { status: 'offline' } });
    expect(await containerOf(id)).toBeDefined();

    const deleted = await agent.command({ action: 'delete_server', serverId: id });
    expect(deleted).toMatchObject({ success: true, data: { status: 'deleting' } });
    for (let i = 0; i < 100 && (await containerOf(id)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await containerOf(id)).toBeUndefined();
    const gone = await agent.command({ action: 'get_server_status', serverId: id });
    expect(gone).toMatchObject({ success: false, code: 'SERVER_NOT_FOUND' });
  });
});
