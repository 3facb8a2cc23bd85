// Issue 3 figures: get_server_status latency through the agent against a direct Docker inspect of the same
// container (same run, same machine), and the agent's idle RSS with 0 and with 50 servers.
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { request } from './lib/http.mjs';
import { percentile, waitFor } from './lib/measure.mjs';

const ITERATIONS = 500;

async function time(fn) {
  const samples = [];
  for (let i = 0; i < 50; i++) await fn(); // warm-up: JIT, keep-alive sockets
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

async function idle(ms) {
  await new Promise((r) => setTimeout(r, ms));
}

export async function run(record) {
  const docker = new Docker();
  await ensureTestImage(docker);

  // RSS with no servers.
  const agent = await startAgentProcess();
  try {
    await idle(3000);
    record({ name: 'agent idle RSS, 0 servers', value: await agent.rssMb(), unit: 'MB' });

    // Latency: one running server, status through the agent vs inspect straight from the Engine.
    const id = randomBytes(16).toString('hex');
    await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: 'sleep 100000' },
    });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'offline',
      'install',
    );
    await agent.command({ action: 'start_server', serverId: id });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'running',
      'running',
    );
    const [container] = await docker.listContainers({ filters: { label: [`ctrl-alt-play.server-id=${id}`] } });
    const inspectPath = `/v1.41/containers/${container.Id}/json`;
    const body = JSON.stringify({ action: 'get_server_status', serverId: id });
    const headers = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' };
    const direct = await time(() => request({ socketPath: '/var/run/docker.sock', path: inspectPath }));
    const viaAgent = await time(() => request({ url: agent.url, path: '/api/command', method: 'POST', headers, body }));
    record({ name: 'get_server_status p50 via agent', value: viaAgent.p50, unit: 'ms' });
    record({ name: 'docker inspect p50 direct', value: direct.p50, unit: 'ms' });
    const ratio = viaAgent.p50 / direct.p50;
    record({
      name: 'status latency ratio agent/docker (p50)',
      value: ratio,
      unit: 'x',
      target: '< 1.5',
      pass: ratio < 1.5,
    });
    const meanRatio = viaAgent.mean / direct.mean;
    record({
      name: 'status latency ratio agent/docker (mean)',
      value: meanRatio,
      unit: 'x',
      target: '< 1.5',
      pass: meanRatio < 1.5,
    });

    // RSS with 50 servers (one running, 49 installed and offline).
    for (let i = 0; i < 49; i++) {
      await agent.command({
        action: 'create_server',
        serverId: randomBytes(16).toString('hex'),
        payload: { image: TEST_IMAGE, startup: 'sleep 100000', limits: { memory: 64 } },
      });
    }
    await waitFor(
      async () => {
        const list = (await agent.command({ action: 'list_servers' })).data.servers;
        return list.length === 50 && list.every((s) => s.status === 'offline' || s.status === 'running');
      },
      '50 installed servers',
      120_000,
    );
    await idle(5000);
    const rss50 = await agent.rssMb();
    record({ name: 'agent idle RSS, 50 servers', value: rss50, unit: 'MB', target: '< 80', pass: rss50 < 80 });
  } finally {
    await agent.stop();
  }
}
