import { type AddressInfo, createServer as tcpServer } from 'node:net';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { labelFilter } from '../helpers/labels.js';

const docker = new Docker();
let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent({ servers: { autoRestartMax: 1, signalGraceMs: 1000 } });
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

async function createServer(startup: string, extra: Record<string, unknown> = {}) {
  const id = uuid();
  const r = await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, startup, ...extra },
  });
  expect(r).toMatchObject({ success: true });
  await waitForStatus(agent, id, 'offline');
  return id;
}

async function startRunning(id: string) {
  expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
  await waitForStatus(agent, id, 'running');
}

async function inspect(id: string) {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: labelFilter(agent.agentId, id) },
  });
  return c ? docker.getContainer(c.Id).inspect() : undefined;
}

describe('stop ladder', () => {
  it('sends the stop command to stdin first and the game exits cleanly', async () => {
    const id = await createServer(`sh -c 'while read line; do [ "$line" = "stop" ] && echo saving && exit 0; done'`, {
      stopCommand: 'stop',
    });
    await startRunning(id);
    const r = await agent.command({ action: 'stop_server', serverId: id, payload: { timeout: '20' } });
    expect(r.data.status).toBe('stopping');
    const done = await waitForStatus(agent, id, 'offline');
    expect(done?.data.exitCode).toBe(0);
    const history = (await inspect(id))?.State;
    expect(history?.ExitCode).toBe(0);
  });

  it('escalates to SIGKILL when the process ignores the signal', async () => {
    const id = await createServer(`sh -c 'trap "" TERM; while true; do sleep 1; done'`);
    await startRunning(id);
    await agent.command({ action: 'stop_server', serverId: id, payload: { signal: 'term', timeout: 1 } });
    const done = await waitForStatus(agent, id, 'offline', 20_000);
    expect(done?.data.exitCode).toBe(137);
  });

  it('refuses an unknown signal or a timeout out of range, and changes nothing', async () => {
    const id = await createServer('sleep 1000');
    await startRunning(id);
    for (const payload of [{ signal: 'SIGSTOP' }, { timeout: 3601 }, { timeout: -1 }, { timeout: 'soon' }]) {
      const r = await agent.command({ action: 'stop_server', serverId: id, payload });
      expect(r).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    }
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('running');
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('treats stopping a stopped server as success and joins a repeated stop', async () => {
    const id = await createServer('sleep 1000');
    expect(await agent.command({ action: 'stop_server', serverId: id })).toMatchObject({
      success: true,
      data: { status: 'offline' },
    });
    await startRunning(id);
    const [a, b] = await Promise.all([
      agent.command({ action: 'stop_server', serverId: id, payload: { timeout: 2 } }),
      agent.command({ action: 'stop_server', serverId: id, payload: { timeout: 2 } }),
    ]);
    expect(a.success && b.success).toBe(true);
    expect(await agent.command({ action: 'start_server', serverId: id })).toMatchObject({
      success: false,
      code: 'SERVER_BUSY',
    });
    await waitForStatus(agent, id, 'offline', 20_000);
  });
});

describe('exits the agent did not cause', () => {
  it('marks a non-zero exit as crashed with the exit code, restarts within the budget, then stays crashed', async () => {
    const id = await createServer(`sh -c 'echo starting; sleep 0.3; exit 3'`);
    await agent.command({ action: 'start_server', serverId: id });
    const crashed = await waitForStatus(agent, id, 'crashed');
    expect(crashed?.data.exitCode).toBe(3);
    // Budget of 1: one automatic restart, which crashes again, then it stays crashed.
    const spent = await waitFor(async () => {
      const s = (await agent.command({ action: 'get_server_status', serverId: id })).data;
      return s.status === 'crashed' && s.crashRestarts.exhausted ? s : undefined;
    }, 'the restart budget to run out');
    expect(spent.crashRestarts).toEqual({ used: 1, max: 1, exhausted: true });
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('crashed');
  });

  it('does not restart a server whose restartPolicy is off', async () => {
    const id = await createServer(`sh -c 'exit 4'`, { restartPolicy: 'off' });
    await agent.command({ action: 'start_server', serverId: id });
    const crashed = await waitForStatus(agent, id, 'crashed');
    expect(crashed?.data.exitCode).toBe(4);
    await new Promise((r) => setTimeout(r, 1500)); // past the first restart delay (1 s)
    const later = (await agent.command({ action: 'get_server_status', serverId: id })).data;
    expect(later.status).toBe('crashed');
    expect(later.crashRestarts.used).toBe(0);
  });

  it('marks a clean exit as offline with reason exited', async () => {
    const id = await createServer(`sh -c 'sleep 0.5; exit 0'`);
    await agent.command({ action: 'start_server', serverId: id });
    const r = await waitFor(async () => {
      const s = await agent.command({ action: 'get_server_status', serverId: id });
      return s.data.status === 'offline' && s.data.reason === 'exited' ? s : undefined;
    }, 'a clean exit');
    expect(r?.data.exitCode).toBe(0);
  });
});

describe('create semantics', () => {
  it('refuses start while installing, re-create while installing, and applies a new spec at the next start', async () => {
    const id = uuid();
    await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1000' },
    });
    const again = await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE } });
    const start = await agent.command({ action: 'start_server', serverId: id });
    // The install of a local image is quick; if it already finished, both are allowed.
    if ((await agent.command({ action: 'get_server_status', serverId: id })).data.status === 'installing') {
      expect(again).toMatchObject({ success: false, code: 'SERVER_BUSY' });
      expect(start).toMatchObject({ success: false, code: 'INVALID_STATE' });
    }
    await waitFor(async () => {
      const s = (await agent.command({ action: 'get_server_status', serverId: id })).data;
      return s.status === 'offline' && !s.busy;
    }, 'install to settle');
    await startRunning(id);
    const recreated = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1000', environment: { GAME_MODE: 'hardcore' } },
    });
    // A running server keeps running; the new spec applies at the next start.
    expect(recreated).toMatchObject({ success: true, data: { status: 'running' } });
    expect(recreated.data.warnings).toContain('the new spec takes effect at the next start');
    expect((await inspect(id))?.Config.Env).not.toContain('GAME_MODE=hardcore');
    const restarted = await agent.command({ action: 'restart_server', serverId: id, payload: { timeout: 1 } });
    expect(restarted).toMatchObject({ success: true, data: { status: 'starting' } });
    await waitFor(async () => {
      const s = (await agent.command({ action: 'get_server_status', serverId: id })).data;
      return s.status === 'running' && !s.busy;
    }, 'the restart to finish');
    expect((await inspect(id))?.Config.Env).toContain('GAME_MODE=hardcore');
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('fails the install with IMAGE_PULL_FAILED for an image that exists nowhere', async () => {
    const id = uuid();
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: 'no-such-image-cap:never' },
    });
    expect(r).toMatchObject({ success: true, data: { status: 'installing' } });
    const failed = await waitForStatus(agent, id, 'install_failed');
    expect(failed?.data.reason).toBe('install_failed');
    expect(await agent.command({ action: 'start_server', serverId: id })).toMatchObject({
      success: false,
      code: 'INVALID_STATE',
    });
  });

  it('publishes ports given as X ports and reports warnings when none are given', async () => {
    const id = uuid();
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1' },
    });
    expect(r.data.warnings).toContain('no ports published');
    const withPorts = uuid();
    await agent.command({
      action: 'create_server',
      serverId: withPorts,
      payload: { image: TEST_IMAGE, startup: 'sleep 1000', ports: [{ ip: '127.0.0.1', port: 25611, internal: 25565 }] },
    });
    await waitForStatus(agent, withPorts, 'offline');
    const info = await inspect(withPorts);
    expect(info?.HostConfig.PortBindings?.['25565/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: '25611' }]);
    expect(info?.HostConfig.PortBindings?.['25565/udp']).toEqual([{ HostIp: '127.0.0.1', HostPort: '25611' }]);
    expect(info?.Config.Env).toContain('SERVER_PORT=25565');
  });

  it('settles a start that fails on a taken host port as offline/port_conflict and says why', async () => {
    const blocker = tcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const id = await createServer('sleep 1000', { ports: [{ ip: '127.0.0.1', port, internal: 25565 }] });
      expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
      const settled = await waitForStatus(agent, id, 'offline');
      expect(settled?.data).toMatchObject({
        reason: 'port_conflict',
        lastError: { action: 'start', code: 'PORT_CONFLICT' },
      });
    } finally {
      blocker.close();
    }
  });
});
