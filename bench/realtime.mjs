// Issue 4 figures: console throughput and latency through the agent against reading the same container's output
// straight from the Docker API in the same run; agent CPU and RSS during a flood; CPU cost of sampling 50 servers.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import WebSocket from 'ws';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { percentile, waitFor } from './lib/measure.mjs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function cpuSeconds(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
}

async function createRunning(agent, startup) {
  const id = randomBytes(16).toString('hex');
  await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup } });
  await waitFor(
    async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'offline',
    'install',
  );
  return id;
}

function openSocket(agent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${agent.url.replace('http', 'ws')}/api/ws`, {
      headers: { authorization: `Bearer ${agent.token}` },
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Lines "L<n>" seen on a raw Docker attach stream, with the time each arrived. */
async function attachDirect(docker, containerId, onLine) {
  const stream = await docker.getContainer(containerId).attach({ stream: true, stdout: true, stderr: true });
  let partial = '';
  stream.on('data', (chunk) => {
    const now = performance.now();
    partial += chunk.toString();
    const lines = partial.split(/\r?\n/);
    partial = lines.pop();
    for (const line of lines) onLine(line.trim(), now);
  });
  return stream;
}

async function throughputAndLatency(agent, docker, record) {
  // 20,000 numbered lines paced at about 4,000 lines/s (below the 5,000 lines/s flood limit), then again at
  // about 1,000 lines/s for latency. Both readers watch the same container at the same time.
  for (const { name, batch, sleepUs, total } of [
    { name: 'throughput', batch: 40, sleepUs: 10_000, total: 20_000 },
    { name: 'latency', batch: 10, sleepUs: 10_000, total: 5_000 },
  ]) {
    const loops = total / batch;
    const startup = `sh -c 'sleep 2; i=0; while [ $i -lt ${loops} ]; do j=0; while [ $j -lt ${batch} ]; do echo L$((i*${batch}+j)); j=$((j+1)); done; usleep ${sleepUs}; i=$((i+1)); done; sleep 1000'`;
    const id = await createRunning(agent, startup);
    const ws = await openSocket(agent);
    const viaAgent = new Map();
    ws.on('message', (data) => {
      const now = performance.now();
      const frame = JSON.parse(String(data));
      if (frame.type === 'event' && frame.event === 'console_output') {
        for (const line of frame.data.lines) if (line.startsWith('L')) viaAgent.set(line, now);
      }
    });
    ws.send(JSON.stringify({ type: 'subscribe', id: 's', servers: [id], events: ['console_output'] }));
    await agent.command({ action: 'start_server', serverId: id });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'running',
      'running',
    );
    const [container] = await docker.listContainers({ filters: { label: [`ctrl-alt-play.server-id=${id}`] } });
    const direct = new Map();
    const stream = await attachDirect(docker, container.Id, (line, t) => line.startsWith('L') && direct.set(line, t));
    await waitFor(async () => direct.size >= total && viaAgent.size >= total, `${name}: all lines`, 60_000).catch(
      () => undefined,
    );
    stream.destroy();
    ws.close();
    await agent.command({ action: 'kill_server', serverId: id });
    const span = (m) => {
      const times = [...m.values()];
      return (Math.max(...times) - Math.min(...times)) / 1000;
    };
    if (name === 'throughput') {
      const agentRate = viaAgent.size / span(viaAgent);
      const directRate = direct.size / span(direct);
      record({ name: 'console lines/s via agent WebSocket', value: agentRate, unit: 'lines/s' });
      record({ name: 'console lines/s via Docker attach', value: directRate, unit: 'lines/s' });
      record({
        name: 'console lines lost via agent',
        value: total - viaAgent.size,
        unit: 'lines',
        target: '= 0',
        pass: viaAgent.size === total,
      });
      const ratio = agentRate / directRate;
      record({
        name: 'console throughput ratio agent/docker',
        value: ratio,
        unit: 'x',
        target: '>= 0.8',
        pass: ratio >= 0.8,
      });
    } else {
      const delays = [];
      for (const [line, t] of viaAgent) if (direct.has(line)) delays.push(t - direct.get(line));
      delays.sort((a, b) => a - b);
      const p50 = percentile(delays, 50);
      const p99 = percentile(delays, 99);
      record({ name: 'console latency p50 at 1,000 lines/s (agent − docker)', value: p50, unit: 'ms' });
      record({
        name: 'console latency p99 at 1,000 lines/s (agent − docker)',
        value: p99,
        unit: 'ms',
        target: '< 50',
        pass: p99 < 50,
      });
    }
  }
}

async function flood(agent, record) {
  const id = await createRunning(agent, 'yes flood-line-for-the-benchmark');
  const ws = await openSocket(agent);
  ws.send(JSON.stringify({ type: 'subscribe', id: 's', servers: [id] }));
  ws.on('message', () => undefined);
  await agent.command({ action: 'start_server', serverId: id });
  await new Promise((r) => setTimeout(r, 2000));
  const cpu0 = await cpuSeconds(agent.pid);
  const t0 = performance.now();
  let rss = 0;
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 500));
    rss = Math.max(rss, await agent.rssMb());
  }
  const cpu = ((await cpuSeconds(agent.pid)) - cpu0) / ((performance.now() - t0) / 1000);
  ws.close();
  await agent.command({ action: 'kill_server', serverId: id });
  record({ name: 'agent CPU during a `yes` flood', value: cpu * 100, unit: '% core' });
  record({ name: 'agent peak RSS during a `yes` flood', value: rss, unit: 'MB', target: '< 150', pass: rss < 150 });
}

async function sampling(agent, record) {
  const ids = [];
  for (let i = 0; i < 50; i++) ids.push(await createRunning(agent, 'sleep 100000'));
  for (const id of ids) await agent.command({ action: 'start_server', serverId: id });
  await waitFor(
    async () => {
      const list = (await agent.command({ action: 'list_servers' })).data.servers;
      return list.filter((s) => s.status === 'running').length >= 50;
    },
    '50 running servers',
    120_000,
  );
  const idle0 = await cpuSeconds(agent.pid);
  await new Promise((r) => setTimeout(r, 5000));
  const idleCpu = ((await cpuSeconds(agent.pid)) - idle0) / 5;

  // The sampler itself: one WebSocket subscribed to resource_update for all 50, pushed once a second.
  const ws = await openSocket(agent);
  let updates = 0;
  ws.on('message', (data) => {
    if (JSON.parse(String(data)).event === 'resource_update') updates++;
  });
  ws.send(JSON.stringify({ type: 'subscribe', id: 's', servers: '*', events: ['resource_update'] }));
  await new Promise((r) => setTimeout(r, 3000)); // first samples set the CPU baselines
  const seconds = 10;
  const cpu0 = await cpuSeconds(agent.pid);
  const updates0 = updates;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = ((await cpuSeconds(agent.pid)) - cpu0) / elapsed - idleCpu;
  ws.close();
  record({
    name: 'resource_update samples per second (50 servers)',
    value: (updates - updates0) / elapsed,
    unit: '/s',
  });
  record({
    name: 'CPU to sample 50 running servers once a second',
    value: cpu * 100,
    unit: '% core',
    target: '< 5',
    pass: cpu * 100 < 5,
  });

  // The panel's way: 50 get_server_metrics requests a second over HTTP (sampling plus the HTTP stack).
  const http0 = await cpuSeconds(agent.pid);
  const h0 = performance.now();
  for (let s = 0; s < 5; s++) {
    const tick = performance.now();
    await Promise.all(ids.map((id) => agent.command({ action: 'get_server_metrics', serverId: id })));
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - tick))));
  }
  const httpCpu = ((await cpuSeconds(agent.pid)) - http0) / ((performance.now() - h0) / 1000) - idleCpu;
  record({ name: 'CPU for 50 get_server_metrics/s over HTTP', value: httpCpu * 100, unit: '% core' });
}

export async function run(record) {
  const docker = new Docker();
  await ensureTestImage(docker);
  const agent = await startAgentProcess({}, { metrics: { resourceIntervalMs: 1000 } });
  try {
    await throughputAndLatency(agent, docker, record);
    await flood(agent, record);
    await sampling(agent, record);
  } finally {
    await agent.stop();
  }
}
