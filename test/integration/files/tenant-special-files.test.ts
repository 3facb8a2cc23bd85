import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

/**
 * A real game container plays the tenant of issue 10: it makes FIFOs (one with a writer that never stops), a
 * directory swapped for a link to the host's /usr, and a tree deeper than the walk cap, then the agent works on
 * them through the command API. Before the fix four FIFO reads froze every file operation of every server.
 */
let agent: TestAgent;
let id: string;

beforeAll(async () => {
  agent = await startTestAgent({ files: { walkMaxDepth: 16 } });
  id = uuid();
  const startup = [
    'cd /home/container',
    'for i in 1 2 3 4 5 6; do mkfifo pipe$i; done',
    'mkfifo flood; (while true; do cat /dev/zero > flood; done) & true',
    'mkdir -p data; echo hello > data/hello.txt',
    'd=deep; for i in $(seq 1 40); do d=$d/d; done; mkdir -p $d',
    'ln -s /usr usr-link',
    'echo ready',
    'while true; do sleep 1; done',
  ].join('; ');
  const line = `sh -c '${startup}'`;
  await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, startup: line, limits: { memory: 128, disk: 50 } },
  });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'start_server', serverId: id });
  await waitForStatus(agent, id, 'running');
  await waitFor(
    async () =>
      (await agent.command({ action: 'list_files', serverId: id, payload: { path: '/' } })).data?.files?.some(
        (f: { name: string }) => f.name === 'usr-link',
      ),
    'the tenant to make its traps',
  );
});

afterAll(async () => {
  await agent.command({ action: 'kill_server', serverId: id });
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

describe('a tenant’s special files and deep trees', () => {
  it('refuses FIFOs at once and keeps serving every other file operation', async () => {
    const reads = await Promise.all(
      ['pipe1', 'pipe2', 'pipe3', 'pipe4', 'pipe5', 'pipe6', 'flood'].map((p) =>
        agent.command({ action: 'read_file', serverId: id, payload: { path: p } }),
      ),
    );
    for (const r of reads) expect(r).toMatchObject({ success: false, code: 'INVALID_PATH' });
    const ok = await agent.command({ action: 'read_file', serverId: id, payload: { path: 'data/hello.txt' } });
    expect(ok).toMatchObject({ success: true, data: { content: 'hello\n' } });
    const download = await agent.command({ action: 'download_file', serverId: id, payload: { path: 'flood' } });
    expect(download).toMatchObject({ success: false, code: 'INVALID_PATH' });
    const chmod = await agent.command({
      action: 'set_file_permissions',
      serverId: id,
      payload: { path: 'pipe1', mode: '644' },
    });
    expect(chmod).toMatchObject({ success: false, code: 'INVALID_PATH' });
  });

  it('archives the directory without the FIFOs, and never follows the link to /usr', async () => {
    const made = await agent.command({
      action: 'create_archive',
      serverId: id,
      payload: { files: ['/data', '/usr-link', '/pipe1'], archivePath: '/backup.zip' },
    });
    expect(made).toMatchObject({ success: true, data: { entries: 2 } });
    expect(made.data.size).toBeLessThan(4096);
    const info = await agent.command({ action: 'get_file_info', serverId: id, payload: { path: '/usr-link' } });
    expect(info.data).toMatchObject({ symlink: true, broken: true, size: 0 });
  });

  it('refuses to copy a tree past the depth cap and still deletes it', async () => {
    const copy = await agent.command({
      action: 'copy_file',
      serverId: id,
      payload: { sourcePath: '/deep', destinationPath: '/deep-copy' },
    });
    expect(copy).toMatchObject({ success: false, code: 'FILE_TOO_LARGE' });
    const del = await agent.command({ action: 'delete_file', serverId: id, payload: { path: '/deep' } });
    expect(del).toMatchObject({ success: true });
    const health = await fetch(`${agent.url}/health`);
    expect(health.status).toBe(200);
  });
});
