import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerContainers } from '../../src/docker/containers.js';
import { DockerEngine } from '../../src/docker/engine.js';
import { containerName, ownerLabels } from '../../src/docker/labels.js';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitForStatus } from '../helpers/agent.js';
import { runPrefix, TEST_IMAGE } from '../helpers/constants.js';
import { DockerProxy } from '../helpers/docker-proxy.js';
import { labelFilter } from '../helpers/labels.js';

/**
 * The Engine calls from create_server to running (issue 13: at 200 servers every extra call competes with the
 * starts for the daemon, and a container list walks all of them). Counted by a proxy in front of the real
 * Engine. The container's id from the create is a hint only: a container removed or re-created outside the agent
 * is still found through the labels.
 */

const docker = new Docker();
const cleanup: (() => Promise<void>)[] = [];
const STARTUP = `sh -c 'while read l; do echo "got $l"; done'`;

afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

/** Container and image calls only: the health ping and the events stream come and go on their own. */
function engineCalls(proxy: DockerProxy, from: number): string[] {
  return proxy.requests
    .slice(from)
    .filter((r) => r.includes('/containers') || r.includes('/images'))
    .map((r) => r.replace(/[0-9a-f]{64}/, '{id}').replace(/\/images\/.+\/json$/, '/images/{ref}/json'));
}

async function agentBehindProxy(): Promise<{ agent: TestAgent; proxy: DockerProxy }> {
  const proxy = new DockerProxy();
  await proxy.start();
  cleanup.push(() => proxy.close());
  // No periodic sweep during the test: its container list would land between the calls counted here.
  const agent = await startTestAgent({
    docker: { host: proxy.dockerHost, network: 'ctrl-alt-play-test' },
    servers: { autoRestart: false, reconcileIntervalMs: 3_600_000 },
  });
  cleanup.push(async () => {
    await agent.stop();
    await removeDataDir(agent.dataDir);
  });
  return { agent, proxy };
}

async function serverContainers(agentId: string, serverId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: labelFilter(agentId, serverId) } });
}

describe('Engine calls of a server', () => {
  it('a start after create_server inspects the created container by id: no container list, no image inspect', async () => {
    const { agent, proxy } = await agentBehindProxy();
    const id = uuid();
    cleanup.push(() => agent.command({ action: 'delete_server', serverId: id }).then(() => undefined));
    const atCreate = proxy.requests.length;
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup: STARTUP } });
    await waitForStatus(agent, id, 'offline');
    const install = engineCalls(proxy, atCreate);
    // The pull (no registry here, so the local copy: one image inspect) and the create, whose name would conflict
    // with a container left from before: no container list. The image's facts come from the pull's inspect.
    expect(install).toEqual(['POST /images/create', 'GET /images/{ref}/json', 'POST /containers/create']);

    const atStart = proxy.requests.length;
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    expect(engineCalls(proxy, atStart)).toEqual([
      'GET /containers/{id}/json',
      'POST /containers/{id}/attach',
      'POST /containers/{id}/start',
      'GET /containers/{id}/json',
    ]);
  }, 120_000);

  it('a container removed or re-created outside the agent is found through its labels', async () => {
    const { agent, proxy } = await agentBehindProxy();
    const id = uuid();
    cleanup.push(() => agent.command({ action: 'delete_server', serverId: id }).then(() => undefined));
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup: STARTUP } });
    await waitForStatus(agent, id, 'offline');
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    await agent.command({ action: 'kill_server', serverId: id });
    await waitForStatus(agent, id, 'offline');

    // Removed: the known id answers 404, the list finds nothing, the agent creates a new container.
    const [first] = await serverContainers(agent.agentId, id);
    if (!first) throw new Error('no container after the first start');
    await docker.getContainer(first.Id).remove({ force: true });
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    const [second] = await serverContainers(agent.agentId, id);
    expect(second?.Id).not.toBe(first.Id);
    expect(second?.State).toBe('running');
    await agent.command({ action: 'kill_server', serverId: id });
    await waitForStatus(agent, id, 'offline');

    // Re-created by hand from the same options (labels and spec hash included): the agent starts that one.
    if (!second) throw new Error('no container after the second start');
    const info = await docker.getContainer(second.Id).inspect();
    await docker.getContainer(second.Id).remove({ force: true });
    const copy = await docker.createContainer({
      name: info.Name.replace(/^\//, ''),
      Image: info.Config.Image,
      Cmd: info.Config.Cmd,
      Env: info.Config.Env,
      Labels: info.Config.Labels,
      WorkingDir: info.Config.WorkingDir,
      User: info.Config.User,
      Tty: info.Config.Tty,
      OpenStdin: info.Config.OpenStdin,
      AttachStdin: info.Config.AttachStdin,
      AttachStdout: info.Config.AttachStdout,
      AttachStderr: info.Config.AttachStderr,
      HostConfig: info.HostConfig,
    });
    const atStart = proxy.requests.length;
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    const [third] = await serverContainers(agent.agentId, id);
    expect(third?.Id).toBe(copy.id);
    expect(third?.State).toBe('running');
    expect(engineCalls(proxy, atStart)).not.toContain('POST /containers/create');
    expect(engineCalls(proxy, atStart)).toContain('GET /containers/json');
  }, 180_000);

  it('an install replaces a container of ours left under the name, and refuses to touch one that is not', async () => {
    const { agent, proxy } = await agentBehindProxy();
    const ours = uuid();
    const theirs = uuid();
    for (const id of [ours, theirs]) {
      cleanup.push(() => agent.command({ action: 'delete_server', serverId: id }).then(() => undefined));
    }
    // As an earlier agent with this id (its data directory lost) and another program would have left them.
    const left = await docker.createContainer({
      name: containerName(ours),
      Image: TEST_IMAGE,
      Cmd: ['true'],
      Labels: ownerLabels(agent.agentId, ours, 'server'),
    });
    const foreign = await docker.createContainer({ name: containerName(theirs), Image: TEST_IMAGE, Cmd: ['true'] });
    cleanup.push(() => foreign.remove({ force: true }));

    const atCreate = proxy.requests.length;
    await agent.command({ action: 'create_server', serverId: ours, payload: { image: TEST_IMAGE, startup: STARTUP } });
    await waitForStatus(agent, ours, 'offline');
    const [replaced] = await serverContainers(agent.agentId, ours);
    expect(replaced?.Id).not.toBe(left.id);
    expect(engineCalls(proxy, atCreate)).toContain('GET /containers/json');

    await agent.command({
      action: 'create_server',
      serverId: theirs,
      payload: { image: TEST_IMAGE, startup: STARTUP },
    });
    const failed = await waitForStatus(agent, theirs, 'install_failed');
    expect(failed?.data.lastError?.message).toMatch(/already exists and is not owned by this agent/);
    expect((await foreign.inspect()).Id).toBe(foreign.id);
  }, 120_000);

  it('a known id is used only when its labels name this agent, this server and the role', async () => {
    const agentId = `${runPrefix()}${uuid().slice(0, 12)}`;
    const serverId = uuid();
    const containers = new DockerContainers(new DockerEngine(docker, 10_000), agentId, pino({ level: 'silent' }));
    const make = async (labels: Record<string, string>) => {
      const c = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: labels });
      cleanup.push(() => c.remove({ force: true }));
      return c.id;
    };
    const foreignAgent = await make(ownerLabels(`${runPrefix()}other`, serverId, 'server'));
    const otherServer = await make(ownerLabels(agentId, uuid(), 'server'));
    const install = await make(ownerLabels(agentId, serverId, 'install'));
    for (const knownId of [foreignAgent, otherServer, install, 'f'.repeat(64)]) {
      expect(await containers.findContainer(serverId, 'server', knownId)).toBeUndefined();
    }
    const own = await make(ownerLabels(agentId, serverId, 'server'));
    expect((await containers.findContainer(serverId, 'server', foreignAgent))?.id).toBe(own);
    expect(await containers.findContainer(serverId, 'server', own)).toMatchObject({
      id: own,
      serverId,
      state: 'created',
    });
    expect((await containers.findContainer(serverId, 'install', install))?.id).toBe(install);
  });
});
