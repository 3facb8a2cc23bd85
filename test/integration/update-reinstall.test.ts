import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteServersAndStop,
  prepareDataDir,
  removeDataDir,
  startTestAgent,
  type TestAgent,
  uuid,
  waitFor,
  waitForStatus,
} from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { labelFilter } from '../helpers/labels.js';
import { TestSocket } from '../helpers/ws-client.js';

/** update_server, reinstall_server and get_install_log (PROTOCOL.md §4.6) against the real Engine. */

const docker = new Docker();
const MIB = 1024 * 1024;
let agent: TestAgent;

beforeAll(async () => {
  agent = await startTestAgent({ servers: { signalGraceMs: 1000 } });
});

afterAll(async () => {
  await deleteServersAndStop(agent);
});

async function inspect(a: TestAgent, id: string) {
  const [c] = await docker.listContainers({
    all: true,
    filters: { label: labelFilter(a.agentId, id) },
  });
  return c ? docker.getContainer(c.Id).inspect() : undefined;
}

async function create(a: TestAgent, payload: Record<string, unknown>, settle = 'offline') {
  const id = uuid();
  const r = await a.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE, ...payload } });
  expect(r).toMatchObject({ success: true });
  await waitForStatus(a, id, settle);
  return id;
}

async function readText(id: string, file: string): Promise<string> {
  const r = await agent.command({ action: 'read_file', serverId: id, payload: { path: file } });
  expect(r).toMatchObject({ success: true });
  return r.data.content as string;
}

async function logs(id: string): Promise<string[]> {
  return (await agent.command({ action: 'get_server_logs', serverId: id })).data.logs as string[];
}

describe('update_server', () => {
  it('puts a memory limit in force on the running container at once (applied: live), without a restart', async () => {
    const id = await create(agent, { startup: 'sleep 1000', limits: { memory: 256, cpu: 50 } });
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    const before = await inspect(agent, id);
    expect(before?.HostConfig.Memory).toBe(256 * MIB);

    const r = await agent.command({ action: 'update_server', serverId: id, payload: { limits: { memory: '512' } } });
    expect(r).toMatchObject({ success: true, data: { serverId: id, applied: 'live' } });
    const after = await inspect(agent, id);
    expect(after?.Id).toBe(before?.Id);
    expect(after?.State.StartedAt).toBe(before?.State.StartedAt);
    expect(after?.HostConfig.Memory).toBe(512 * MIB);
    // The other limits were kept, not reset to their defaults.
    expect(after?.HostConfig.NanoCpus).toBe(50 * 10_000_000);
    const listed = (await agent.command({ action: 'list_servers' })).data.servers.find(
      (s: { serverId: string }) => s.serverId === id,
    );
    expect(listed.limits).toMatchObject({ memory: 512, cpu: 50 });
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('stores a new startup line for the next start (applied: next_start), and the next start runs it', async () => {
    const id = await create(agent, { startup: 'echo first-line; sleep 1000' });
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');
    await waitFor(async () => (await logs(id)).includes('first-line'), 'the first line');

    const r = await agent.command({
      action: 'update_server',
      serverId: id,
      payload: { startup: 'echo second-line; sleep 1000' },
    });
    expect(r).toMatchObject({ success: true, data: { applied: 'next_start' } });
    expect((await agent.command({ action: 'get_server_status', serverId: id })).data.status).toBe('running');
    expect((await logs(id)).includes('second-line')).toBe(false);

    await agent.command({ action: 'restart_server', serverId: id, payload: { timeout: 1 } });
    await waitFor(async () => (await logs(id)).includes('second-line'), 'the new startup line after the restart');
    await waitForStatus(agent, id, 'running');
    await agent.command({ action: 'kill_server', serverId: id });
  });

  it('refuses a bad payload with INVALID_PAYLOAD and leaves the stored spec exactly as it was', async () => {
    const id = await create(agent, { startup: 'sleep 1000', limits: { memory: 128 } });
    const file = path.join(agent.dataDir, 'servers', `${id}.json`);
    // The settled state is persisted a moment after it is reported: snapshot the record once it says so.
    await waitFor(async () => JSON.parse(await readFile(file, 'utf8')).state === 'offline', 'the offline record');
    const stored = await readFile(file, 'utf8');
    for (const payload of [
      { limits: { memory: -5 } },
      { image: 'NOT A VALID IMAGE' },
      { environment: { 'bad key': 1 } },
      { startup: 'echo fine', ports: [{ port: 70000 }] },
    ]) {
      const r = await agent.command({ action: 'update_server', serverId: id, payload });
      expect(r, JSON.stringify(payload)).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    }
    expect(await readFile(file, 'utf8')).toBe(stored);
    const listed = (await agent.command({ action: 'list_servers' })).data.servers.find(
      (s: { serverId: string }) => s.serverId === id,
    );
    expect(listed.limits.memory).toBe(128);
  });
});

describe('reinstall_server', () => {
  const APPEND = { script: 'echo installed >> /mnt/server/log.txt; echo "install ran"' };

  it('runs the install script again, keeps the files, and with wipe: true starts from an empty directory', async () => {
    const id = await create(agent, { startup: 'sleep 1000', install: APPEND });
    expect(await readText(id, '/log.txt')).toBe('installed\n');
    await agent.command({ action: 'write_file', serverId: id, payload: { path: '/world/level.dat', content: 'x' } });
    await agent.command({ action: 'start_server', serverId: id });
    await waitForStatus(agent, id, 'running');

    const socket = await TestSocket.open(agent.url, { authorization: `Bearer ${agent.token}` });
    await socket.request({ type: 'subscribe', id: 's1', servers: [id], events: ['install_output'] });
    const r = await agent.command({ action: 'reinstall_server', serverId: id });
    expect(r).toMatchObject({ success: true, data: { serverId: id, status: 'installing' } });
    const output = await socket.next((f) => f.type === 'event' && f.event === 'install_output');
    expect(output.data).toMatchObject({ serverId: id, lines: expect.arrayContaining(['install ran']) });
    socket.close();
    await waitForStatus(agent, id, 'offline');
    expect(await readText(id, '/log.txt')).toBe('installed\ninstalled\n');
    expect(await readText(id, '/world/level.dat')).toBe('x');

    const wiped = await agent.command({ action: 'reinstall_server', serverId: id, payload: { wipe: 'true' } });
    expect(wiped).toMatchObject({ success: true, data: { status: 'installing' } });
    await waitForStatus(agent, id, 'offline');
    expect(await readText(id, '/log.txt')).toBe('installed\n');
    expect(
      await agent.command({ action: 'read_file', serverId: id, payload: { path: '/world/level.dat' } }),
    ).toMatchObject({ success: false, code: 'FILE_NOT_FOUND' });
  });

  it('settles as install_failed with the reason and the last lines when the script exits non-zero', async () => {
    const id = await create(agent, { startup: 'sleep 1000', install: APPEND });
    const r = await agent.command({
      action: 'update_server',
      serverId: id,
      // A burst of output just before the exit: the last lines must not be lost when the exit is seen first.
      payload: {
        install: {
          script:
            'echo step one; i=0; while [ $i -lt 3000 ]; do echo "progress $i of a long download line"; i=$((i+1)); done; ' +
            'echo "fatal: mirror unreachable" >&2; exit 3',
        },
      },
    });
    expect(r).toMatchObject({ success: true, data: { applied: 'live' } });
    await agent.command({ action: 'reinstall_server', serverId: id });
    const failed = await waitForStatus(agent, id, 'install_failed');
    expect(failed?.data.reason).toBe('install_failed');
    expect(failed?.data.lastError).toMatchObject({
      action: 'install',
      message: expect.stringContaining('exited with code 3'),
      lastLines: expect.arrayContaining(['progress 2999 of a long download line', 'fatal: mirror unreachable']),
    });
    const log = await agent.command({ action: 'get_install_log', serverId: id });
    expect(log.data).toMatchObject({ exitCode: 3, log: expect.stringContaining('fatal: mirror unreachable') });
    expect(log.data.log).toContain('step one');
    expect(Date.parse(log.data.finishedAt)).toBeGreaterThanOrEqual(Date.parse(log.data.startedAt));
  });
});

describe('get_install_log', () => {
  it('survives an agent restart, and goes with the server when it is deleted', async () => {
    const prepared = await prepareDataDir();
    const first = await startTestAgent({}, prepared);
    let second: TestAgent | undefined;
    try {
      const id = await create(first, { startup: 'sleep 1000', install: { script: 'echo "hello from the installer"' } });
      await first.stop();
      second = await startTestAgent({}, prepared);
      const log = await second.command({ action: 'get_install_log', serverId: id });
      expect(log).toMatchObject({
        success: true,
        data: { serverId: id, exitCode: 0, log: expect.stringContaining('hello from the installer') },
      });
      expect(typeof log.data.startedAt).toBe('string');
      expect(typeof log.data.finishedAt).toBe('string');
      const file = path.join(prepared.dataDir, 'install-logs', `${id}.json`);
      await access(file);
      await second.command({ action: 'delete_server', serverId: id });
      await waitFor(
        async () => (await second?.command({ action: 'get_server_status', serverId: id }))?.code === 'SERVER_NOT_FOUND',
        'the server to be deleted',
      );
      await expect(access(file)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await second?.stop();
      await first.stop().catch(() => undefined);
      await removeDataDir(prepared.dataDir);
    }
  });
});
