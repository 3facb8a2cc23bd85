import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let agent: TestAgent;
let prepared: Awaited<ReturnType<typeof prepareDataDir>>;
const ECHO = `sh -c 'echo first-line; while read l; do echo "got:$l"; done'`;

beforeAll(async () => {
  prepared = await prepareDataDir();
  agent = await startTestAgent({}, prepared);
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(prepared.dataDir);
});

async function running(startup: string, extra: Record<string, unknown> = {}) {
  const id = uuid();
  await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup, ...extra } });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'start_server', serverId: id });
  await waitForStatus(agent, id, 'running');
  return id;
}

async function history(id: string, lines?: unknown): Promise<string[]> {
  const r = await agent.command({
    action: 'console:history',
    serverId: id,
    payload: lines === undefined ? undefined : { lines },
  });
  return r.data.history;
}

describe('console', () => {
  it('captures the very first line and delivers commands to stdin', async () => {
    const id = await running(ECHO);
    await waitFor(async () => (await history(id)).includes('first-line'), 'the first line');
    const sent = await agent.command({
      action: 'console:command',
      serverId: id,
      payload: { command: 'hello world\n' },
    });
    expect(sent).toEqual({ success: true, data: { sent: true } });
    await waitFor(async () => (await history(id)).includes('got:hello world'), 'the echo');
    const alias = await agent.command({
      action: 'send_server_command',
      serverId: id,
      payload: { command: 'via alias' },
    });
    expect(alias.success).toBe(true);
    await waitFor(async () => (await history(id)).includes('got:via alias'), 'the aliased command');

    const status = await agent.command({ action: 'console:status', serverId: id });
    expect(status.data.connected).toBe(true);
    expect(typeof status.data.bufferSize).toBe('number');
    expect(status.data.bufferSize).toBeGreaterThanOrEqual(3);
    expect(new Date(status.data.lastActivity).toISOString()).toBe(status.data.lastActivity);

    const logs = await agent.command({ action: 'get_server_logs', serverId: id, payload: { lines: 2 } });
    expect(logs.data.logs).toHaveLength(2);
    expect(logs.data.lines).toBe(2);
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('refuses multi-line, empty and over-long commands, and commands to a stopped server', async () => {
    const id = await running(ECHO);
    for (const command of ['a\nb', 'a\rb', '', 'x'.repeat(4097)]) {
      const r = await agent.command({ action: 'console:command', serverId: id, payload: { command } });
      expect(r).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    }
    await agent.command({ action: 'kill_server', serverId: id });
    const stopped = await agent.command({ action: 'console:command', serverId: id, payload: { command: 'say hi' } });
    expect(stopped).toMatchObject({ success: false, code: 'SERVER_NOT_RUNNING' });
  });

  it('clamps lines, clears, and downloads "\\n" for an empty console', async () => {
    const id = await running(`sh -c 'for i in 1 2 3 4 5; do echo line-$i; done; sleep 1000'`);
    await waitFor(async () => (await history(id)).includes('line-5'), 'output');
    expect(await history(id, 'NaN')).toContain('line-5');
    expect(await history(id, -5)).toEqual(['line-5']);
    expect((await history(id, 1e12)).length).toBeGreaterThanOrEqual(5);
    const txt = await agent.command({ action: 'console:download', serverId: id });
    expect(txt.data.format).toBe('txt');
    expect(txt.data.content.endsWith('line-5\n')).toBe(true);
    const json = await agent.command({ action: 'console:download', serverId: id, payload: { format: 'json' } });
    expect(JSON.parse(json.data.content)).toContain('line-3');
    expect(await agent.command({ action: 'console:clear', serverId: id })).toEqual({
      success: true,
      data: { cleared: true },
    });
    const empty = await agent.command({ action: 'console:download', serverId: id });
    expect(empty.data).toEqual({ content: '\n', format: 'txt', lines: 0 });
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('refills the history from the container log after an agent restart', async () => {
    const id = await running(`sh -c 'echo before-restart; sleep 1000'`);
    await waitFor(async () => (await history(id)).includes('before-restart'), 'output');
    await agent.stop();
    agent = await startTestAgent({}, prepared);
    // The log tail is read after /ready (boot reconciliation defers each running server's reattach), so it is
    // awaited, not expected at the first answer.
    await waitFor(async () => (await history(id)).includes('before-restart'), 'history refilled after the restart');
    await agent.command({ action: 'kill_server', serverId: id });
  });
});

describe('metrics', () => {
  it('reports the exact shape the panel stores for a running server', async () => {
    const id = await running(`sh -c 'x=0; while true; do x=$((x+1)); done'`, { limits: { memory: 64, cpu: 50 } });
    await agent.command({ action: 'get_server_metrics', serverId: id });
    const r = await agent.command({ action: 'get_server_metrics', serverId: id });
    const d = r.data;
    expect(r.success).toBe(true);
    for (const key of ['cpu', 'memory', 'disk']) expect(typeof d[key]).toBe('number');
    expect(typeof d.network.in).toBe('number');
    expect(typeof d.network.out).toBe('number');
    expect(Number.isInteger(d.players)).toBe(true);
    expect(new Date(d.timestamp).toISOString()).toBe(d.timestamp);
    expect(d.cpu).toBeGreaterThan(5); // a busy loop, capped at half a core
    expect(d.cpu).toBeLessThan(80);
    expect(d.memory).toBeGreaterThan(0);
    expect(d.memory).toBeLessThan(64);
    expect(d).toMatchObject({ memoryLimit: 64, cpuLimit: 50, status: 'running' });
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('reports zeros and the real disk figure for a stopped server, never an error', async () => {
    const id = uuid();
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, startup: 'sleep 1' } });
    await waitForStatus(agent, id, 'offline');
    const r = await agent.command({ action: 'get_server_metrics', serverId: id });
    expect(r).toMatchObject({
      success: true,
      data: { cpu: 0, memory: 0, network: { in: 0, out: 0 }, players: 0, status: 'offline' },
    });
    expect(typeof r.data.disk).toBe('number');
  });

  it('reports host CPU %, memory bytes and disk of the data directory', async () => {
    const r = await agent.command({ action: 'get_system_metrics' });
    expect(r.success).toBe(true);
    expect(r.data.cpu).toBeGreaterThanOrEqual(0);
    expect(r.data.cpu).toBeLessThanOrEqual(100);
    expect(r.data.memory).toBeGreaterThan(1024 * 1024);
    expect(Number.isInteger(r.data.memory)).toBe(true);
    expect(r.data.disk.total).toBeGreaterThan(r.data.disk.used);
    expect(r.data.servers.total).toBeGreaterThan(0);
    expect(r.data.loadAverage).toHaveLength(3);
  });
});
