import Docker from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDataDir, removeDataDir, uuid, waitFor } from '../helpers/agent.js';
import { type AgentProcess, spawnAgent } from '../helpers/agent-process.mjs';
import { TEST_IMAGE } from '../helpers/constants.js';
import { labelFilter } from '../helpers/labels.js';

const docker = new Docker();
const cleanup: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function start(dataDir: string, token: string, env: Record<string, string> = {}): Promise<AgentProcess> {
  const agent = await spawnAgent({ AGENT_DATA_DIR: dataDir, ...env }, token);
  cleanup.push(async () => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await agent.exited;
  });
  return agent;
}

async function statusOf(agent: AgentProcess, serverId: string) {
  return (await agent.command({ action: 'get_server_status', serverId })).data;
}

describe('the real agent process', () => {
  it('survives SIGKILL: after a restart the running server is still running, unrestarted, and known', async () => {
    const { dataDir, token, agentId } = await prepareDataDir();
    cleanup.push(() => removeDataDir(dataDir));
    const first = await start(dataDir, token);
    await waitFor(async () => (await fetch(`${first.url}/ready`)).status === 200, 'ready');
    const id = uuid();
    await first.command({
      action: 'create_server',
      serverId: id,
      payload: { name: 'kill-me', image: TEST_IMAGE, startup: 'sleep 1000', limits: { memory: 64 } },
    });
    await waitFor(async () => (await statusOf(first, id))?.status === 'offline', 'install');
    await first.command({ action: 'start_server', serverId: id, payload: {} });
    await waitFor(async () => (await statusOf(first, id))?.status === 'running', 'running');
    const [container] = await docker.listContainers({
      filters: { label: labelFilter(agentId, id) },
    });
    const startedAt = (await docker.getContainer(container!.Id).inspect()).State.StartedAt;

    first.child.kill('SIGKILL');
    await first.exited;
    expect((await docker.getContainer(container!.Id).inspect()).State.Running).toBe(true);

    const second = await start(dataDir, token);
    await waitFor(async () => (await fetch(`${second.url}/ready`)).status === 200, 'ready after restart');
    const status = await statusOf(second, id);
    expect(status).toMatchObject({ serverId: id, status: 'running' });
    const after = (await docker.getContainer(container!.Id).inspect()).State;
    expect(after.Running).toBe(true);
    expect(after.StartedAt).toBe(startedAt);
    await second.command({ action: 'kill_server', serverId: id });
  });

  it('exits 0 on SIGTERM and leaves the game server running', async () => {
    const { dataDir, token, agentId } = await prepareDataDir();
    cleanup.push(() => removeDataDir(dataDir));
    const agent = await start(dataDir, token);
    await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, 'ready');
    const id = uuid();
    await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1000' },
    });
    await waitFor(async () => (await statusOf(agent, id))?.status === 'offline', 'install');
    await agent.command({ action: 'start_server', serverId: id });
    await waitFor(async () => (await statusOf(agent, id))?.status === 'running', 'running');

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.output()).toContain('shutdown complete');
    const [container] = await docker.listContainers({
      filters: { label: labelFilter(agentId, id) },
    });
    expect(container?.State).toBe('running');
    await docker.getContainer(container!.Id).kill();
  });

  it('saves a generated token (0600) and never prints or logs it (token show does: operations.test.ts)', async () => {
    const { dataDir, token } = await prepareDataDir();
    cleanup.push(() => removeDataDir(dataDir));
    const { rm, readFile, stat } = await import('node:fs/promises');
    await rm(`${dataDir}/token`);
    const first = await start(dataDir, token);
    const saved = (await readFile(`${dataDir}/token`, 'utf8')).trim();
    expect(saved.length).toBeGreaterThanOrEqual(32);
    expect(((await stat(`${dataDir}/token`)).mode & 0o777).toString(8)).toBe('600');
    first.child.kill('SIGTERM');
    await first.exited;
    expect(first.output()).not.toContain(saved);

    const second = await spawnAgent({ AGENT_DATA_DIR: dataDir }, saved);
    cleanup.push(async () => {
      second.child.kill('SIGKILL');
      await second.exited;
    });
    expect(second.output()).not.toContain(saved);
    expect((await second.command({ action: 'list_servers' })).success).toBe(true);
  });

  it('keeps serving with Docker unreachable at start-up', async () => {
    const { dataDir, token } = await prepareDataDir();
    cleanup.push(() => removeDataDir(dataDir));
    const agent = await start(dataDir, token, { DOCKER_HOST: `unix://${dataDir}/no-such-docker.sock` });
    const health = await fetch(`${agent.url}/health`, { headers: { 'content-type': 'application/json' } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy', connected: true, docker: 'unreachable' });
    const ready = await fetch(`${agent.url}/ready`);
    expect(ready.status).toBe(503);
    const created = await agent.command({ action: 'create_server', serverId: uuid(), payload: { image: TEST_IMAGE } });
    expect(created.success).toBe(true); // accepted and persisted; the install waits for Docker
    const kill = await agent.command({ action: 'kill_server', serverId: created.data.serverId });
    expect(kill).toMatchObject({ success: false });
    expect(['INVALID_STATE', 'DOCKER_UNAVAILABLE']).toContain(kill.code);
    expect(agent.child.exitCode).toBeNull();
  });
});
