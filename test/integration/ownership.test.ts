import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitForStatus } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';

const docker = new Docker();
let agent: TestAgent;
const foreign: Docker.Container[] = [];

beforeAll(async () => {
  agent = await startTestAgent();
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
  for (const c of foreign) await c.remove({ force: true }).catch(() => undefined);
});

describe('containers the agent did not create', () => {
  it('never touches a same-named container without our labels, and says why the create failed', async () => {
    const id = uuid();
    const squatter = await docker.createContainer({
      name: `ctrl-alt-play-${id}`,
      Image: TEST_IMAGE,
      Cmd: ['sleep', '1000'],
    });
    foreign.push(squatter);
    await squatter.start();
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 1' },
    });
    expect(r.success).toBe(true);
    await waitForStatus(agent, id, 'install_failed');
    const info = await squatter.inspect();
    expect(info.State.Running).toBe(true);
    expect(info.State.StartedAt).toBeTruthy();
    // Deleting our record leaves the foreign container alone.
    await agent.command({ action: 'delete_server', serverId: id });
    await new Promise((r) => setTimeout(r, 500));
    expect((await squatter.inspect()).State.Running).toBe(true);
  });

  it('ignores containers labelled as managed by another agent', async () => {
    const other = await docker.createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sleep', '1000'],
      Labels: {
        'ctrl-alt-play.managed': 'true',
        'ctrl-alt-play.agent-id': 'agt_someone_else',
        'ctrl-alt-play.server-id': 'shared-id-1',
        'ctrl-alt-play.role': 'server',
      },
    });
    foreign.push(other);
    await other.start();
    expect(await agent.command({ action: 'get_server_status', serverId: 'shared-id-1' })).toMatchObject({
      success: false,
      code: 'SERVER_NOT_FOUND',
    });
    const list = await agent.command({ action: 'list_servers' });
    expect(list.data.servers.map((s: { serverId: string }) => s.serverId)).not.toContain('shared-id-1');
    expect((await other.inspect()).State.Running).toBe(true);
  });
});
