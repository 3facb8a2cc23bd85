// Game queries: the agent's idle RSS before and after the query library (gamedig) is loaded, and the CPU one query
// costs the agent, measured against a real OpenTTD server (test/helpers/openttd-image.mjs) and scaled to the
// figure the issue asks for: 50 servers queried every 30 s.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureOpenttdImage, OPENTTD_IMAGE } from '../test/helpers/openttd-image.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux
const QUERIED = 10;
const WINDOW_MS = 60_000;
const INTERVAL_S = 5;

const idle = (ms) => new Promise((r) => setTimeout(r, ms));

async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
}

async function waitFor(probe, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await idle(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startAll(agent, ids) {
  // One at a time: a busy shared Engine times out 20 parallel starts.
  for (const id of ids) {
    const r = await agent.command({ action: 'start_server', serverId: id });
    if (!r.success) throw new Error(`start_server failed: ${JSON.stringify(r)}`);
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status !== 'starting',
      'the start to settle',
      60_000,
    );
  }
  await waitFor(
    async () => {
      for (const id of ids) {
        const r = await agent.command({ action: 'get_server_status', serverId: id });
        if (r.data?.status !== 'running') return false;
      }
      return true;
    },
    'servers running',
    120_000,
  ).catch(async (err) => {
    const states = await Promise.all(
      ids.map(async (id) => (await agent.command({ action: 'get_server_status', serverId: id })).data),
    );
    throw new Error(`${err.message}: ${JSON.stringify(states.filter((s) => s.status !== 'running').slice(0, 2))}`);
  });
}

async function createAll(agent, count, payload) {
  const ids = Array.from({ length: count }, () => randomBytes(16).toString('hex'));
  for (const id of ids) await agent.command({ action: 'create_server', serverId: id, payload });
  await waitFor(
    async () => {
      const list = (await agent.command({ action: 'list_servers' })).data.servers;
      return ids.every((id) => list.find((s) => s.serverId === id)?.status === 'offline');
    },
    'servers installed',
    120_000,
  );
  return ids;
}

export async function run(record) {
  const docker = new Docker();
  await ensureTestImage(docker);
  await ensureOpenttdImage(docker);
  const agent = await startAgentProcess();
  try {
    await idle(3000);
    const before = await agent.rssMb();
    record({ name: 'agent idle RSS, no game query yet (gamedig not loaded)', value: before, unit: 'MB' });

    // The real game server every queried server below points its query at.
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const [game] = await createAll(agent, 1, {
      image: OPENTTD_IMAGE,
      startup: 'openttd -D 0.0.0.0:3979 -x -c /home/container/openttd.cfg',
      ports: [{ port, internal: 3979 }],
      startupDone: 'Map generated, starting game',
      query: { type: 'openttd', intervalSeconds: 3600 },
    });
    await startAll(agent, [game]);
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: game })).data.query?.online,
      'the first answer',
      30_000,
    );
    await idle(5000);
    const loaded = await agent.rssMb();
    record({
      name: 'agent idle RSS, gamedig loaded (1 queried server)',
      value: loaded,
      unit: 'MB',
      target: '< 80',
      pass: loaded < 80,
    });
    record({ name: 'RSS added by loading gamedig and one query', value: loaded - before, unit: 'MB' });

    // Baseline: QUERIED running servers without a query, so the containers' own cost (attach, events) is the same.
    const plain = await createAll(agent, QUERIED, { image: TEST_IMAGE, startup: 'sleep 100000' });
    await startAll(agent, plain);
    await idle(3000);
    let t0 = await cpuSeconds(agent.pid);
    await idle(WINDOW_MS);
    const baseline = (await cpuSeconds(agent.pid)) - t0;
    for (const id of plain) await agent.command({ action: 'kill_server', serverId: id });

    // The same number of running servers, each querying the OpenTTD server every INTERVAL_S.
    const queried = await createAll(agent, QUERIED, {
      image: TEST_IMAGE,
      startup: 'sleep 100000',
      query: { type: 'openttd', port, intervalSeconds: INTERVAL_S },
    });
    await startAll(agent, queried);
    await idle(6000); // past the first query of every server
    t0 = await cpuSeconds(agent.pid);
    await idle(WINDOW_MS);
    const withQueries = (await cpuSeconds(agent.pid)) - t0;
    const answered = await Promise.all(
      queried.map(
        async (id) => (await agent.command({ action: 'get_server_status', serverId: id })).data.query?.online,
      ),
    );
    if (!answered.every(Boolean)) throw new Error('not every queried server had an answer');
    const queries = QUERIED * (WINDOW_MS / 1000 / INTERVAL_S);
    const perQueryMs = (Math.max(0, withQueries - baseline) / queries) * 1000;
    record({ name: 'agent CPU per game query (OpenTTD, gamedig)', value: perQueryMs, unit: 'ms' });
    // 50 servers every 30 s: 50/30 queries per second, each perQueryMs of CPU.
    record({
      name: 'agent CPU for 50 servers queried every 30 s',
      value: ((50 / 30) * perQueryMs) / 10,
      unit: '% core',
      target: '< 1',
      pass: ((50 / 30) * perQueryMs) / 10 < 1,
    });
    record({
      name: `agent idle RSS, ${QUERIED + 1} running servers, ${QUERIED} queried every ${INTERVAL_S} s`,
      value: await agent.rssMb(),
      unit: 'MB',
    });
  } finally {
    await agent.stop();
  }
}
