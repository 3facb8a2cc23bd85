import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
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

/**
 * Density and a slow Engine (issue 13), on the real Engine: a 20-server smoke of the 200-server bench
 * (bench/density.mjs), the agent's state against `docker ps` after each step, a restart of the agent that must
 * reattach without restarting anything, servers.max, and starts the Engine answers after the agent's deadline.
 */

const docker = new Docker();
const cleanup: (() => Promise<void>)[] = [];
/**
 * Each server gets one port, TCP and UDP, from a range of its own (ports-pool.test.ts uses 26400-26409), at a random
 * offset so two runs side by side on one Engine do not fight over the same ports.
 */
const POOL_FROM = 27100 + 40 * Math.floor(Math.random() * 20);
const POOL = `${POOL_FROM}-${POOL_FROM + 39}`;
/** Prints a line every 5 s and echoes stdin, as the bench's servers do. */
const STARTUP = `sh -c 'while true; do echo tick; sleep 5; done & while read l; do echo "got $l"; done'`;

afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function containers(agentId: string): Promise<Map<string, Docker.ContainerInfo>> {
  const list = await docker.listContainers({ all: true, filters: { label: labelFilter(agentId) } });
  return new Map(list.map((c) => [c.Labels['ctrl-alt-play.server-id'] ?? '', c]));
}

/** Servers whose state the agent reports differently from Docker: running ⇔ `running`. */
async function disagreements(agent: TestAgent): Promise<string[]> {
  const [list, byServer] = await Promise.all([agent.command({ action: 'list_servers' }), containers(agent.agentId)]);
  const out: string[] = [];
  for (const s of list.data.servers as { serverId: string; status: string }[]) {
    const up = byServer.get(s.serverId)?.State === 'running';
    if (up !== (s.status === 'running'))
      out.push(`${s.serverId}: agent ${s.status}, docker ${byServer.get(s.serverId)?.State}`);
  }
  return out;
}

async function startedAt(agentId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [id, c] of await containers(agentId)) {
    out.set(id, (await docker.getContainer(c.Id).inspect()).State.StartedAt);
  }
  return out;
}

async function killAll(agent: TestAgent, ids: string[]): Promise<void> {
  await inBatches(ids, 8, async (serverId) => {
    await agent.command({ action: 'kill_server', serverId }).catch(() => undefined);
  });
}

describe('20 servers on one agent', () => {
  it('creates and starts them 4 at a time, reattaches all after a restart without restarting one, and refuses the 21st', async () => {
    const prepared = await prepareDataDir();
    cleanup.push(() => removeDataDir(prepared.dataDir));
    const config = { allocations: { pool: [POOL] }, servers: { max: 20 } };
    const first = await startTestAgent(config, prepared);
    const ids = Array.from({ length: 20 }, () => uuid());
    let restarted = false;
    cleanup.push(async () => {
      if (restarted) return;
      await killAll(first, ids);
      await first.stop();
    });

    await inBatches(ids, 4, async (serverId) => {
      const r = await first.command({
        action: 'create_server',
        serverId,
        payload: { image: TEST_IMAGE, startup: STARTUP },
      });
      expect(r).toMatchObject({ success: true });
      await waitForStatus(first, serverId, 'offline');
    });
    await inBatches(ids, 4, async (serverId) => {
      expect((await first.command({ action: 'start_server', serverId })).success).toBe(true);
      await waitForStatus(first, serverId, 'running');
    });
    expect(await disagreements(first)).toEqual([]);

    const refused = await first.command({
      action: 'create_server',
      serverId: uuid(),
      payload: { image: TEST_IMAGE, startup: STARTUP },
    });
    expect(refused).toMatchObject({ success: false, code: 'INSUFFICIENT_RESOURCES' });
    expect((await first.command({ action: 'list_servers' })).data.servers).toHaveLength(20);

    const before = await startedAt(prepared.agentId);
    expect(before.size).toBe(20);
    await first.stop();

    const t0 = Date.now();
    restarted = true;
    const second = await startTestAgent(config, prepared);
    const readyMs = Date.now() - t0;
    cleanup.push(async () => {
      await killAll(second, ids);
      await second.stop();
    });
    expect(await disagreements(second)).toEqual([]);
    // Every console is back (stdin in, output out): each server echoes what it is sent.
    await waitFor(
      async () => {
        const pending = await Promise.all(
          ids.map(async (serverId) => {
            const history = await second.command({ action: 'console:history', serverId, payload: { lines: 50 } });
            if ((history.data.history as string[]).some((l) => l.includes('got hello'))) return undefined;
            await second.command({ action: 'console:command', serverId, payload: { command: 'hello' } });
            return serverId;
          }),
        );
        return pending.every((p) => p === undefined);
      },
      'every console to echo after the restart',
      30_000,
    );
    expect(await startedAt(prepared.agentId)).toEqual(before);
    expect(await disagreements(second)).toEqual([]);
    // /ready waits for one container list, not for 20 reattaches (the bench measures 50 and 200 servers).
    expect(readyMs).toBeLessThan(5_000);
    // About 20 s on a quiet 2-core machine; the Engine alone takes minutes when others' tests load it.
  }, 240_000);
});

describe('a slow Engine', () => {
  async function slowAgent(hold: 'request' | 'response') {
    const proxy = new DockerProxy();
    await proxy.start();
    cleanup.push(() => proxy.close());
    const agent = await startTestAgent({
      docker: { host: proxy.dockerHost, network: 'ctrl-alt-play-test', apiTimeoutMs: 2000 },
      servers: { autoRestart: false },
    });
    cleanup.push(async () => {
      await agent.stop();
      await removeDataDir(agent.dataDir);
    });
    const id = uuid();
    cleanup.push(async () => {
      await agent.command({ action: 'kill_server', serverId: id });
    });
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup: STARTUP } });
    await waitForStatus(agent, id, 'offline');
    // Past the agent's 2 s deadline for a start.
    const rule = proxy.delay({ method: 'POST', path: /\/containers\/[^/]+\/start/, ms: 4500, hold });
    return { agent, id, proxy, rule };
  }

  it('a start answered after the deadline is running, with no failure reported', async () => {
    const { agent, id, proxy, rule } = await slowAgent('response');
    expect((await agent.command({ action: 'start_server', serverId: id })).data.status).toBe('starting');
    const status = await waitForStatus(agent, id, 'running', 20_000);
    expect(proxy.held.get(rule)).toBe(1);
    expect(status?.data.lastError).toBeUndefined();
    expect(status?.data.reason).not.toBe('crash');
    expect(await disagreements(agent)).toEqual([]);
  });

  it('a start the Engine carries out after the deadline is followed from the events stream', async () => {
    const { agent, id, proxy, rule } = await slowAgent('request');
    expect((await agent.command({ action: 'start_server', serverId: id })).data.status).toBe('starting');
    const status = await waitForStatus(agent, id, 'running', 20_000);
    expect(proxy.held.get(rule)).toBe(1);
    expect(status?.data.lastError).toBeUndefined();
    expect(await disagreements(agent)).toEqual([]);
    // The console of a run the agent did not see start is attached too.
    await waitFor(async () => {
      await agent.command({ action: 'console:command', serverId: id, payload: { command: 'late' } });
      const history = await agent.command({ action: 'console:history', serverId: id, payload: { lines: 50 } });
      return (history.data.history as string[]).some((l) => l.includes('got late'));
    }, 'the console to echo');
  });
});
