// Issue 13 figures: N busybox servers (200 by default; DENSITY_SERVERS=50 for a smaller run), each printing a line
// every 5 s, echoing stdin and publishing one TCP+UDP port, created and started 4 at a time through the agent
// against `docker create` + `docker start` of the same containers (the agent's own option builder, raw dockerode
// calls, same concurrency) in the same run, in alternating rounds; then idle RSS and CPU with N known, the CPU of sampling all N every 2 s,
// list_servers and get_server_status p99 while they run, and a kill -9 and a SIGTERM of the agent: time to /ready,
// all N reattached (state, console, stdin), none restarted. At every step the agent's state is compared with Docker.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import WebSocket from 'ws';
import { buildContainerOptions } from '../dist/docker/container-options.js';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { percentile, waitFor } from './lib/measure.mjs';

const N = Number(process.env.DENSITY_SERVERS ?? 200);
const CONCURRENCY = 4;
/** Restart rounds per signal (the figure is their median); DENSITY_ONLY=restart skips the create-ratio, idle and
 * sampling phases (the raw Docker comparison, idle CPU, sampling, latencies) to measure the restarts alone. */
const RESTARTS = Number(process.env.DENSITY_RESTARTS ?? 3);
const RESTART_ONLY = process.env.DENSITY_ONLY === 'restart';
/** N consecutive ports, TCP and UDP, away from the tests' ranges (26400-26409, 27100-27899). */
const PORT_BASE = Number(process.env.DENSITY_PORT_BASE ?? 32000);
const STARTUP = `sh -c 'while true; do echo tick; sleep 5; done & while read l; do echo "got $l"; done'`;
const TICKS_PER_SECOND = 100;
const NETWORK = 'ctrl-alt-play-test';

async function cpuSeconds(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
}

/** Runs `fn` over `items` with `size` workers, as a panel filling a node does. */
async function pool(items, size, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Servers per round of the create+start comparison: raw Docker and the agent take turns, a round each, so both
 * meet the same load from the rest of the machine (a shared machine's load average moved from 12 to 30 within one
 * 200-server run, and the same 50 raw creates took 110 s and then 53 s a few minutes apart) and the same number of
 * containers already running: a raw round's containers are removed (untimed) before the agent's round.
 */
const ROUND = Math.max(CONCURRENCY * 5, Math.ceil(N / 10));

/** Raw ports sit above the agent's, so a raw round never waits on a port the agent's servers hold. */
const rawPort = (i) => PORT_BASE + N + i;

/**
 * `docker create` + `docker start` of servers `from`..`from + count - 1`, built by the agent's own option builder,
 * 4 at a time; then removed. Returns the seconds the creates and starts took.
 */
async function rawRound(docker, runId, root, from, count) {
  const ids = [];
  const t0 = performance.now();
  await pool(
    Array.from({ length: count }, (_, k) => from + k),
    CONCURRENCY,
    async (i) => {
      const dataDir = path.join(root, String(i));
      await mkdir(dataDir, { recursive: true });
      const port = rawPort(i);
      const options = buildContainerOptions({
        name: `capbench-density-${runId}-${i}`,
        image: TEST_IMAGE,
        labels: { 'capbench.density': runId },
        environment: { SERVER_PORT: String(port), SERVER_IP: '0.0.0.0', TZ: 'UTC' },
        startup: STARTUP,
        imageHasEntrypoint: false,
        limits: { memory: 0, disk: 0, cpu: 0, swap: 0, io: 500 },
        ports: [{ ip: undefined, port, internal: port, protocol: 'both' }],
        dataDir,
        network: NETWORK,
        user: '988:988',
        pidsLimit: 2048,
        tmpSizeMb: 256,
        init: false,
        hostHasIoWeight: true,
        defaultIp: '0.0.0.0',
      });
      const container = await docker.createContainer(options);
      await container.start();
      ids.push(container.id);
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  await pool(ids, 8, (id) =>
    docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => undefined),
  );
  return seconds;
}

/** server_status_changed events from the agent's WebSocket, so waits end on the event instead of polling. */
async function statusEvents(agent) {
  const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/ws`, {
    headers: { authorization: `Bearer ${agent.token}` },
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const waiters = new Map();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.event !== 'server_status_changed') return;
    const waiter = waiters.get(frame.serverId);
    if (waiter && frame.data.currentStatus === waiter.status) {
      waiters.delete(frame.serverId);
      waiter.resolve();
    }
  });
  ws.send(JSON.stringify({ type: 'subscribe', id: 's', servers: '*', events: ['server_status_changed'] }));
  await sleep(200);
  return {
    /** Registered before the command that causes it, so the event cannot be missed. */
    expect(serverId, status, timeoutMs = 180_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(serverId);
          reject(new Error(`server ${serverId} did not become ${status} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(serverId, {
          status,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () => ws.close(),
  };
}

/** Servers whose state the agent reports differently from Docker (running ⇔ `running`). */
async function disagreements(agent, docker) {
  const [reply, list] = await Promise.all([
    agent.command({ action: 'list_servers' }),
    docker.listContainers({ all: true, filters: { label: [`ctrl-alt-play.agent-id=${agent.agentId}`] } }),
  ]);
  const byServer = new Map(list.map((c) => [c.Labels['ctrl-alt-play.server-id'], c.State]));
  const out = [];
  for (const s of reply.data?.servers ?? []) {
    const up = byServer.get(s.serverId) === 'running';
    if (up !== (s.status === 'running'))
      out.push(`${s.serverId}: agent ${s.status}, docker ${byServer.get(s.serverId)}`);
  }
  return out;
}

async function startedAt(agent, docker) {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`ctrl-alt-play.agent-id=${agent.agentId}`] },
  });
  const out = new Map();
  await pool(list, 8, async (c) => {
    out.set(c.Labels['ctrl-alt-play.server-id'], (await docker.getContainer(c.Id).inspect()).State.StartedAt);
  });
  return out;
}

async function latencyP99(agent, body, iterations = 300) {
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await agent.command(body);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return percentile(samples, 99);
}

/** Restarts the agent on the same data directory; ms from spawn to /ready answering 200. */
async function restart(reuse, config) {
  const t0 = performance.now();
  const agent = await startAgentProcess({}, config, reuse);
  await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, '/ready', 60_000);
  return { agent, readyMs: performance.now() - t0 };
}

/** Waits until every server is running with its console attached and echoing stdin; returns the seconds taken. */
async function allReattached(agent, ids, t0) {
  const echoed = new Set();
  await waitFor(
    async () => {
      await pool(
        ids.filter((id) => !echoed.has(id)),
        8,
        async (serverId) => {
          const history = await agent.command({ action: 'console:history', serverId, payload: { lines: 20 } });
          if ((history.data?.history ?? []).some((l) => l.includes('got back'))) {
            echoed.add(serverId);
            return;
          }
          await agent.command({ action: 'console:command', serverId, payload: { command: 'back' } });
        },
      );
      return echoed.size === ids.length;
    },
    `all ${ids.length} servers to echo after the restart`,
    120_000,
  );
  return (performance.now() - t0) / 1000;
}

export async function run(record) {
  const docker = new Docker();
  await ensureTestImage(docker);
  const runId = randomBytes(4).toString('hex');
  console.log(
    `  ${N} servers, ${CONCURRENCY} at a time, ports ${PORT_BASE}-${PORT_BASE + N - 1} TCP+UDP (raw: ${rawPort(0)}-${rawPort(N - 1)})`,
  );

  const config = { metrics: { resourceIntervalMs: 2000 } };
  let agent = await startAgentProcess({}, config);
  const reuse = { dataDir: agent.dataDir, token: agent.token, agentId: agent.agentId };
  let worst = 0;
  const check = async (what) => {
    const wrong = await disagreements(agent, docker);
    worst = Math.max(worst, wrong.length);
    if (wrong.length) console.log(`  ${what}: ${wrong.length} disagree, e.g. ${wrong.slice(0, 3).join('; ')}`);
  };
  const rawRoot = path.join(tmpdir(), `cap-density-raw-${runId}`);
  try {
    const events = await statusEvents(agent);
    const ids = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
    let failed = 0;
    const throughAgent = async ({ id, port }) => {
      try {
        const installed = events.expect(id, 'offline');
        const created = await agent.command({
          action: 'create_server',
          serverId: id,
          payload: { image: TEST_IMAGE, startup: STARTUP, ports: [{ port, protocol: 'both' }] },
        });
        if (!created.success) throw new Error(JSON.stringify(created));
        await installed;
        const running = events.expect(id, 'running');
        const started = await agent.command({ action: 'start_server', serverId: id });
        if (!started.success) throw new Error(JSON.stringify(started));
        await running;
      } catch (err) {
        failed++;
        console.log(`  ${id}: ${err.message}`);
      }
    };
    let rawSeconds = 0;
    let agentSeconds = 0;
    for (let from = 0; from < N; from += ROUND) {
      const count = Math.min(ROUND, N - from);
      if (!RESTART_ONLY) rawSeconds += await rawRound(docker, runId, rawRoot, from, count);
      const t0 = performance.now();
      await pool(
        ids.slice(from, from + count).map((id, k) => ({ id, port: PORT_BASE + from + k })),
        CONCURRENCY,
        throughAgent,
      );
      agentSeconds += (performance.now() - t0) / 1000;
    }
    events.close();
    if (!RESTART_ONLY) {
      record({
        name: `docker create+start, ${N} servers, ${CONCURRENCY} at a time (rounds of ${ROUND}, interleaved)`,
        value: rawSeconds,
        unit: 's',
      });
    }
    record({ name: `agent create+start, ${N} servers, ${CONCURRENCY} at a time`, value: agentSeconds, unit: 's' });
    if (!RESTART_ONLY) {
      const ratio = agentSeconds / rawSeconds;
      record({
        name: 'create+start ratio agent/docker',
        value: ratio,
        unit: 'x',
        target: '<= 1.2',
        pass: ratio <= 1.2,
      });
    }
    record({ name: 'creates or starts that failed', value: failed, unit: '', target: '0', pass: failed === 0 });
    await check('after creates and starts');

    if (!RESTART_ONLY) {
      await sleep(5000);
      const rss = await agent.rssMb();
      record({
        name: `agent idle RSS, ${N} servers running`,
        value: rss,
        unit: 'MB',
        target: '<= 150',
        pass: rss <= 150,
      });
      const idle0 = await cpuSeconds(agent.pid);
      await sleep(10_000);
      const idleCpu = ((await cpuSeconds(agent.pid)) - idle0) / 10;
      record({ name: `agent idle CPU, ${N} servers running`, value: idleCpu * 100, unit: '% core' });

      // Sampling: one subscriber to resource_update for every server, pushed every 2 s (cgroup files, no Docker stats).
      const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/ws`, {
        headers: { authorization: `Bearer ${agent.token}` },
      });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      let updates = 0;
      ws.on('message', (data) => {
        if (JSON.parse(String(data)).event === 'resource_update') updates++;
      });
      ws.send(JSON.stringify({ type: 'subscribe', id: 's', servers: '*', events: ['resource_update'] }));
      await sleep(4000); // the first samples set the CPU baselines
      const cpu0 = await cpuSeconds(agent.pid);
      const u0 = updates;
      const s0 = performance.now();
      await sleep(20_000);
      const elapsed = (performance.now() - s0) / 1000;
      const sampleCpu = ((await cpuSeconds(agent.pid)) - cpu0) / elapsed - idleCpu;
      record({
        name: `resource_update samples per second (${N} servers, every 2 s)`,
        value: (updates - u0) / elapsed,
        unit: '/s',
      });
      record({
        name: `CPU to sample ${N} servers every 2 s`,
        value: sampleCpu * 100,
        unit: '% core',
        target: '< 5',
        pass: sampleCpu * 100 < 5,
      });

      // Latency while they run (and are sampled).
      const listP99 = await latencyP99(agent, { action: 'list_servers' });
      record({
        name: `list_servers p99, ${N} running`,
        value: listP99,
        unit: 'ms',
        target: '< 50',
        pass: listP99 < 50,
      });
      const statusP99 = await latencyP99(agent, { action: 'get_server_status', serverId: ids[Math.floor(N / 2)] });
      record({
        name: `get_server_status p99, ${N} running`,
        value: statusP99,
        unit: 'ms',
        target: '< 50',
        pass: statusP99 < 50,
      });
      ws.close();
      await check('while sampled');
    }

    // kill -9, then SIGTERM, RESTARTS times each (interleaved, so both see the same machine): the agent comes back,
    // all N reattached, none restarted. The figure is the median; every round is printed.
    const rounds = { SIGKILL: [], SIGTERM: [] };
    const worstRound = { SIGKILL: { reattachS: 0, restarted: 0 }, SIGTERM: { reattachS: 0, restarted: 0 } };
    for (let round = 0; round < RESTARTS; round++) {
      for (const signal of ['SIGKILL', 'SIGTERM']) {
        const name = signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM';
        const before = await startedAt(agent, docker);
        await agent.kill(signal);
        const t = performance.now();
        const next = await restart(reuse, config);
        agent = next.agent;
        rounds[signal].push(next.readyMs / 1000);
        await check(`at /ready after ${name}`);
        const reattachS = await allReattached(agent, ids, t);
        const after = await startedAt(agent, docker);
        const restarted = ids.filter((id) => before.get(id) !== after.get(id)).length;
        console.log(
          `  round ${round + 1} ${name}: /ready ${(next.readyMs / 1000).toFixed(2)} s, reattached ${reattachS.toFixed(1)} s, restarted ${restarted}`,
        );
        const worst = worstRound[signal];
        worst.reattachS = Math.max(worst.reattachS, reattachS);
        worst.restarted = Math.max(worst.restarted, restarted);
        await check(`after reattaching (${name})`);
      }
    }
    for (const signal of ['SIGKILL', 'SIGTERM']) {
      const name = signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM';
      const sorted = [...rounds[signal]].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      record({
        name: `restart to /ready after ${name}, ${N} servers (median of ${sorted.length})`,
        value: median,
        unit: 's',
        target: '< 2',
        pass: median < 2,
      });
      record({
        name: `all ${N} reattached after ${name} (state, console, stdin), worst round`,
        value: worstRound[signal].reattachS,
        unit: 's',
        target: '<= 30',
        pass: worstRound[signal].reattachS <= 30,
      });
      record({
        name: `containers restarted by a ${name} restart, worst round`,
        value: worstRound[signal].restarted,
        unit: '',
        target: '0',
        pass: worstRound[signal].restarted === 0,
      });
    }
    const rssAfter = await agent.rssMb();
    record({
      name: `agent RSS after restarts, ${N} servers`,
      value: rssAfter,
      unit: 'MB',
      target: '<= 150',
      pass: rssAfter <= 150,
    });
  } finally {
    record({
      name: 'servers whose agent state disagreed with Docker (worst check)',
      value: worst,
      unit: '',
      target: '0',
      pass: worst === 0,
    });
    await agent.stop();
    await rm(rawRoot, { recursive: true, force: true });
  }
}
