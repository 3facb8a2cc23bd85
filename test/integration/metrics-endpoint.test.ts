import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuid, waitFor } from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { DockerProxy } from '../helpers/docker-proxy.js';
import { type LoggedAgent, startLoggedAgent } from '../helpers/logged-agent.js';
import { type ParsedFamily, parseMetrics, sampleValue } from '../helpers/prometheus-parser.js';

/**
 * GET /metrics against the real Engine, parsed by a real text-format parser. The agent starts before its Docker
 * socket exists (a proxy in front of the Engine that is not listening yet), so the same run also shows the
 * reachability story: unreachable at start, then back, with a log line each way.
 */
const proxy = new DockerProxy();
let agent: LoggedAgent;
const created: string[] = [];

async function scrape(token: string | undefined = agent.token): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`${agent.url}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await res.text());
}

async function status(serverId: string): Promise<string | undefined> {
  return (await agent.command({ action: 'get_server_status', serverId })).data?.status;
}

beforeAll(async () => {
  agent = await startLoggedAgent({ docker: { host: proxy.dockerHost, healthIntervalMs: 200 } });
});

afterAll(async () => {
  for (const serverId of created) await agent.command({ action: 'delete_server', serverId }).catch(() => undefined);
  await agent?.stop();
  await proxy.close();
});

describe('Docker reachability', () => {
  it('is unreachable at start (logged, /ready docker_unreachable, docker_up 0), then comes back', async () => {
    await waitFor(async () => agent.lines.some((l) => /unreachable at start/.test(l.msg)), 'the start log line');
    expect(await (await fetch(`${agent.url}/ready`)).json()).toEqual({ ready: false, reason: 'docker_unreachable' });
    expect(sampleValue(await scrape(), 'ctrl_alt_play_docker_up')).toBe(0);

    await proxy.start();
    await waitFor(async () => (await fetch(`${agent.url}/ready`)).status === 200, 'ready once Docker answers');
    // The boot starts on the ping; the log line waits for the Engine's version, so it may follow /ready.
    await waitFor(async () => agent.lines.some((l) => l.msg === 'Docker Engine reachable again'), 'the log line');
    const health = (await (await fetch(`${agent.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'healthy', docker: 'reachable', degraded: [] });
    expect(sampleValue(await scrape(), 'ctrl_alt_play_docker_up')).toBe(1);
  });
});

describe('GET /metrics', () => {
  it('asks for the node token on the main listener', async () => {
    expect((await fetch(`${agent.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${agent.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('reports the agent, Docker, the panel link, the process and the event loop', async () => {
    const families = await scrape();
    expect(sampleValue(families, 'ctrl_alt_play_agent_up')).toBe(1);
    const info = families.get('ctrl_alt_play_agent_info')?.metrics[0]?.labels;
    expect(info).toMatchObject({ version: expect.any(String), protocol_version: '1' });
    expect(info?.node_id).toBeTruthy();
    expect(sampleValue(families, 'ctrl_alt_play_docker_info', { version: '' })).toBeUndefined();
    expect(sampleValue(families, 'ctrl_alt_play_panel_link_state', { state: 'disabled' })).toBe(1);
    expect(sampleValue(families, 'ctrl_alt_play_panel_link_state', { state: 'established' })).toBe(0);
    expect(sampleValue(families, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(families.get('process_cpu_seconds_total')?.type).toBe('COUNTER');
    for (const quantile of ['0.5', '0.9', '0.99']) {
      expect(sampleValue(families, 'ctrl_alt_play_event_loop_lag_seconds', { quantile })).toBeGreaterThanOrEqual(0);
    }
    // The agent runs in this process, so stalling this loop stalls its loop: the next scrape must show it. The
    // monitor's first interval after a scrape is not recorded, so one of its 100 ms ticks passes first.
    await new Promise((r) => setTimeout(r, 150));
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // busy: no timer, no I/O, for 300 ms
    }
    const stalled = await scrape();
    expect(sampleValue(stalled, 'ctrl_alt_play_event_loop_lag_max_seconds')).toBeGreaterThan(0.15);
    // No panel and no webhooks configured: no outbox series, only the family.
    expect(families.get('ctrl_alt_play_outbox_events')?.metrics ?? []).toEqual([]);
  });

  it('counts servers by state and gives a created, then running server its resource series', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'ctrl_alt_play_servers', { state: 'offline' })).toBe(0);
    expect(sampleValue(before, 'ctrl_alt_play_servers', { state: 'crashed' })).toBe(0);

    const id = uuid();
    created.push(id);
    const r = await agent.command({
      action: 'create_server',
      serverId: id,
      payload: { image: TEST_IMAGE, startup: `sh -c 'while true; do sleep 1; done'` },
    });
    expect(r.success).toBe(true);
    await waitFor(async () => (await status(id)) === 'offline', 'the install to finish');
    let families = await scrape();
    expect(sampleValue(families, 'ctrl_alt_play_servers', { state: 'offline' })).toBe(1);
    expect(sampleValue(families, 'ctrl_alt_play_servers', { state: 'installing' })).toBe(0);
    expect(sampleValue(families, 'ctrl_alt_play_console_dropped_lines_total', { server_id: id })).toBe(0);
    // Nobody sampled it yet: a scrape does not sample on its own, so there is no CPU series for it.
    expect(sampleValue(families, 'ctrl_alt_play_server_cpu_percent', { server_id: id })).toBeUndefined();

    expect((await agent.command({ action: 'start_server', serverId: id })).success).toBe(true);
    await waitFor(async () => (await status(id)) === 'running', 'the server to run');
    const sampled = await agent.command({ action: 'get_server_metrics', serverId: id });
    families = await scrape();
    expect(sampleValue(families, 'ctrl_alt_play_servers', { state: 'running' })).toBe(1);
    expect(sampleValue(families, 'ctrl_alt_play_servers', { state: 'offline' })).toBe(0);
    const memory = sampleValue(families, 'ctrl_alt_play_server_memory_bytes', { server_id: id });
    expect(memory).toBeGreaterThan(0);
    expect(memory).toBe(Math.round(sampled.data.memory * 1024 * 1024));
    expect(sampleValue(families, 'ctrl_alt_play_server_cpu_percent', { server_id: id })).toBe(sampled.data.cpu);
    expect(sampleValue(families, 'ctrl_alt_play_server_players', { server_id: id })).toBe(sampled.data.players);
    expect(sampleValue(families, 'ctrl_alt_play_server_disk_bytes', { server_id: id })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(families, 'ctrl_alt_play_server_sample_age_seconds', { server_id: id })).toBeLessThan(30);

    await agent.command({ action: 'kill_server', serverId: id });
    await waitFor(async () => ['offline', 'crashed'].includes((await status(id)) ?? ''), 'the server to stop');
    families = await scrape();
    expect(sampleValue(families, 'ctrl_alt_play_server_memory_bytes', { server_id: id })).toBe(0);
  });
});
