import Docker from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import {
  prepareDataDir,
  removeDataDir,
  startTestAgent,
  type TestAgent,
  uuid,
  waitFor,
  waitForStatus,
} from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { DockerProxy } from '../helpers/docker-proxy.js';
import { labelFilter } from '../helpers/labels.js';

const docker = new Docker();
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function containerOf(agentId: string, serverId: string) {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: labelFilter(agentId, serverId) },
  });
  return c ? docker.getContainer(c.Id) : undefined;
}

async function createRunning(agent: TestAgent, startup = 'sleep 1000') {
  const id = uuid();
  await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup } });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'start_server', serverId: id });
  await waitForStatus(agent, id, 'running');
  return id;
}

describe('agent restarts', () => {
  it('reattaches to a running server without restarting it, and keeps specs, aliases and console settings', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const first = await startTestAgent({}, prepared);
    const id = await createRunning(first);
    expect(
      (await first.command({ action: 'add_alias', serverId: id, payload: { alias: 'cm3y0q7rt0004' } })).success,
    ).toBe(true);
    const settings = { action: 'console:settings:update', serverId: id, payload: { settings: { bufferSize: 2500 } } };
    expect((await first.command(settings)).data.settings.bufferSize).toBe(2500);
    const startedAt = (await (await containerOf(prepared.agentId, id))?.inspect())?.State.StartedAt;
    await first.stop();

    const second = await startTestAgent({}, prepared);
    cleanup.push(() => second.stop());
    const status = await waitForStatus(second, 'cm3y0q7rt0004', 'running');
    expect(status?.data.serverId).toBe('cm3y0q7rt0004');
    const after = (await (await containerOf(prepared.agentId, id))?.inspect())?.State;
    expect(after?.Running).toBe(true);
    expect(after?.StartedAt).toBe(startedAt);
    const list = await second.command({ action: 'list_servers' });
    expect(list.data.servers).toEqual([
      expect.objectContaining({ serverId: id, aliases: ['cm3y0q7rt0004'], status: 'running' }),
    ]);
    const kept = await second.command({ action: 'console:settings:get', serverId: id });
    expect(kept.data.settings.bufferSize).toBe(2500);
    await second.command({ action: 'kill_server', serverId: id });
  });

  it('starts a server again whose container stopped while the agent was down (boot_restore)', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const first = await startTestAgent({}, prepared);
    const id = await createRunning(first);
    await first.stop();
    await (await containerOf(prepared.agentId, id))?.kill();

    const second = await startTestAgent({}, prepared);
    cleanup.push(() => second.stop());
    const running = await waitForStatus(second, id, 'running');
    expect(running).toBeTruthy();
    expect((await (await containerOf(prepared.agentId, id))?.inspect())?.State.Running).toBe(true);
    await second.command({ action: 'kill_server', serverId: id });
  });

  it('finishes an acknowledged stop after a restart', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const first = await startTestAgent({}, prepared);
    const id = await createRunning(first, `sh -c 'trap "" TERM; while true; do sleep 1; done'`);
    await first.command({ action: 'stop_server', serverId: id, payload: { timeout: 600 } });
    await first.stop(); // the ladder is still waiting for its 600 s

    const second = await startTestAgent({ servers: { signalGraceMs: 500 } }, prepared);
    cleanup.push(() => second.stop());
    expect((await second.command({ action: 'get_server_status', serverId: id })).data.status).toBe('stopping');
    // The persisted stop had timeout 600: kill pre-empts it so the test does not wait.
    await second.command({ action: 'kill_server', serverId: id });
    await waitForStatus(second, id, 'offline');
  });
});

describe('Docker outages', () => {
  it('keeps serving while Docker is unreachable and notices a crash that happened meanwhile', async () => {
    const proxy = new DockerProxy();
    await proxy.start();
    cleanup.push(() => proxy.close());
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const agent = await startTestAgent(
      {
        docker: { host: proxy.dockerHost, network: 'ctrl-alt-play-test', apiTimeoutMs: 2000 },
        servers: { autoRestart: false },
      },
      prepared,
    );
    cleanup.push(() => agent.stop());
    const id = await createRunning(agent, `sh -c 'while true; do sleep 1; done'`);

    await proxy.cut();
    const health = (await fetch(`${agent.url}/health`).then((r) => r.json())) as { status: string };
    expect(health.status).toBe('healthy');
    const refused = await agent.command({ action: 'start_server', serverId: uuid() });
    expect(refused.success).toBe(false);
    const kill = await agent.command({ action: 'kill_server', serverId: id });
    expect(kill).toMatchObject({ success: false, code: 'DOCKER_UNAVAILABLE' });
    await waitFor(
      async () =>
        ((await fetch(`${agent.url}/health`).then((r) => r.json())) as { docker: string }).docker === 'unreachable',
      'health to notice',
    );
    const ready = await fetch(`${agent.url}/ready`);
    expect(ready.status).toBe(503);

    // While the agent cannot see it, the game dies (as it would when dockerd restarts).
    await (await containerOf(prepared.agentId, id))?.kill({ signal: 'SIGKILL' });
    await proxy.start();
    const crashed = await waitForStatus(agent, id, 'crashed', 30_000);
    expect(crashed?.data.exitCode).toBe(137);
    await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, 'ready again');
  });

  it('keeps a create that met a Docker outage pending and finishes it when Docker returns', async () => {
    const proxy = new DockerProxy();
    await proxy.start();
    cleanup.push(() => proxy.close());
    const agent = await startTestAgent({
      docker: { host: proxy.dockerHost, network: 'ctrl-alt-play-test', apiTimeoutMs: 2000 },
    });
    cleanup.push(async () => {
      await agent.stop();
      await removeDataDir(agent.dataDir);
    });
    await proxy.cut();
    const id = uuid();
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1' },
    });
    expect(r).toMatchObject({ success: true, data: { status: 'installing' } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('installing');
    await proxy.start();
    await waitForStatus(agent, id, 'offline', 30_000);
  });
});

describe('shutdown', () => {
  it('leaves game servers running by default', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const agent = await startTestAgent({}, prepared);
    const id = await createRunning(agent);
    await agent.stop();
    const container = await containerOf(prepared.agentId, id);
    expect((await container?.inspect())?.State.Running).toBe(true);
    await container?.kill();
  });

  it('stops every server gracefully when shutdown.stopServers is set', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const agent = await startTestAgent({ shutdown: { stopServers: true } }, prepared);
    const id = await createRunning(agent, `sh -c 'trap "exit 0" TERM; while true; do sleep 0.2; done'`);
    await agent.stop();
    const state = (await (await containerOf(prepared.agentId, id))?.inspect())?.State;
    expect(state?.Running).toBe(false);
    expect(state?.ExitCode).toBe(0);
  });
});
