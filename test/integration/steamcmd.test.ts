import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTALL_CAPABILITIES } from '../../src/docker/install-options.js';
import {
  deleteServersAndStop,
  startTestAgent,
  type TestAgent,
  uuid,
  waitFor,
  waitForStatus,
} from '../helpers/agent.js';
import { TEST_IMAGE } from '../helpers/constants.js';
import { LABEL_AGENT_ID, LABEL_SERVER_ID } from '../helpers/labels.js';
import { STEAMCMD_IMAGE } from '../helpers/steamcmd-image.mjs';
import { TestSocket } from '../helpers/ws-client.js';

/**
 * SteamCMD (PROTOCOL.md §4.6) against the real Engine, with the stand-in image of test/helpers/steamcmd-image.mjs
 * as steam.image (the test agent's default): its workshop ids 666, 667, 668 and 777 fail or wait on purpose.
 */

const docker = new Docker();
const webhooks: Record<string, unknown>[] = [];
const panel = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    if (req.url === '/api/workshop/webhook/status') webhooks.push(JSON.parse(body));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
  });
});
let agent: TestAgent;
let socket: TestSocket;
let id: string;
const dbId = `cm${uuid().slice(0, 11)}`;
const installNetwork = `ctrl-alt-play-install-test-${uuid().slice(0, 8)}`;

async function webhookFor(workshopId: string) {
  return waitFor(
    async () => webhooks.find((w) => w.workshopId === workshopId),
    `the webhook for ${workshopId}`,
    30_000,
  );
}

async function completed(operationId: string) {
  const frame = await socket.next(
    (f) => f.type === 'event' && f.event === 'operation_completed' && f.data?.operationId === operationId,
    30_000,
  );
  return frame.data as Record<string, any>;
}

async function installMod(payload: Record<string, unknown>) {
  const r = await agent.command({ action: 'install_mod', serverId: dbId, payload });
  expect(r).toMatchObject({ success: true, data: { status: 'installing' } });
  return r.data.operationId as string;
}

async function helperContainers(serverId: string) {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_AGENT_ID}=${agent.agentId}`] } });
  return list.filter((c) => c.Labels[LABEL_SERVER_ID] === serverId && c.Names.some((n) => n.includes('steamcmd')));
}

async function rootNames(serverId: string): Promise<string[]> {
  const r = await agent.command({ action: 'list_files', serverId, payload: { path: '/' } });
  return (r.data.files as { name: string }[]).map((f) => f.name);
}

beforeAll(async () => {
  await new Promise<void>((resolve) => panel.listen(0, '127.0.0.1', () => resolve()));
  agent = await startTestAgent({
    panel: { url: `http://127.0.0.1:${(panel.address() as AddressInfo).port}` },
    docker: { network: 'ctrl-alt-play-test', installNetwork },
  });
  id = uuid();
  await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, environment: { SRCDS_APPID: '4020' }, limits: { memory: 256, cpu: 50 } },
  });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'add_alias', serverId: id, payload: { alias: dbId } });
  socket = await TestSocket.open(agent.url, { authorization: `Bearer ${agent.token}` });
  await socket.request({ type: 'subscribe', id: 's1', servers: [id], events: ['operation_completed'] });
});

afterAll(async () => {
  socket?.close();
  await deleteServersAndStop(agent);
  await docker
    .getNetwork(installNetwork)
    .remove()
    .catch(() => undefined);
  panel.close();
});

describe('install_mod through SteamCMD', () => {
  it('downloads a steam:// item into targetPath, owned like every other file, and tells the panel', async () => {
    const operationId = await installMod({
      type: 'steam_workshop',
      workshopId: 2503622437,
      downloadUrl: 'steam://workshop/download/2503622437',
    });
    const done = await completed(operationId);
    expect(done).toMatchObject({
      action: 'install_mod',
      success: true,
      status: 'COMPLETED',
      workshopId: '2503622437',
      data: { targetPath: '/steamapps/workshop/content/4020/2503622437', via: 'steamcmd' },
    });
    expect(await webhookFor('2503622437')).toEqual({ serverId: dbId, workshopId: '2503622437', status: 'COMPLETED' });
    const file = await agent.command({
      action: 'read_file',
      serverId: dbId,
      payload: { path: 'steamapps/workshop/content/4020/2503622437/mod.txt' },
    });
    expect(file.data.content).toBe('workshop item 2503622437 for app 4020\n');
    // SteamCMD ran as root in its container; the sanitize walk gives the files to the game's user (988 as root).
    const onDisk = path.join(agent.dataDir, 'volumes', id, 'steamapps/workshop/content/4020/2503622437');
    for (const p of [onDisk, path.join(onDisk, 'mod.txt')]) {
      expect((await stat(p)).uid, p).toBe(988);
      expect((await stat(p)).gid, p).toBe(988);
    }
    // The staging directory and the helper are gone.
    expect((await rootNames(id)).filter((n) => n.startsWith('.steamcmd-'))).toEqual([]);
    expect(await helperContainers(id)).toEqual([]);
  });

  it('moves a download without a URL into a custom targetPath, merging into a folder that holds other mods', async () => {
    await agent.command({ action: 'write_file', serverId: dbId, payload: { path: 'addons/other.txt', content: 'o' } });
    const operationId = await installMod({ workshopId: '31', targetPath: 'addons' });
    expect(await completed(operationId)).toMatchObject({ success: true, data: { targetPath: '/addons' } });
    const names = (await agent.command({ action: 'list_files', serverId: dbId, payload: { path: 'addons' } })).data
      .files as { name: string }[];
    expect(names.map((f) => f.name).sort()).toEqual(['mod.txt', 'other.txt']);
  });

  it('fails on an ERROR! line although SteamCMD exits 0', async () => {
    const operationId = await installMod({ workshopId: '666', downloadUrl: 'steam://workshop/download/666' });
    const done = await completed(operationId);
    expect(done).toMatchObject({
      success: false,
      status: 'FAILED',
      error: { code: 'DOCKER_ERROR', message: 'steamcmd reported: ERROR! Download item 666 failed (Failure).' },
    });
    expect(await webhookFor('666')).toEqual({
      serverId: dbId,
      workshopId: '666',
      status: 'FAILED',
      error: 'steamcmd reported: ERROR! Download item 666 failed (Failure).',
    });
    const status = await agent.command({ action: 'get_server_status', serverId: id });
    expect(status.data.lastError).toMatchObject({
      action: 'mod install',
      lastLines: expect.arrayContaining(['ERROR! Download item 666 failed (Failure).']),
    });
    expect((await rootNames(id)).filter((n) => n.startsWith('.steamcmd-'))).toEqual([]);
    expect(await helperContainers(id)).toEqual([]);
  });

  it('fails on a non-zero exit code, and when SteamCMD says nothing but leaves nothing', async () => {
    const crashed = await installMod({ workshopId: '667' });
    expect(await completed(crashed)).toMatchObject({
      success: false,
      error: { code: 'DOCKER_ERROR', message: 'steamcmd exited with code 5' },
    });
    expect(await webhookFor('667')).toMatchObject({ status: 'FAILED', error: 'steamcmd exited with code 5' });
    const quiet = await installMod({ workshopId: '668' });
    expect(await completed(quiet)).toMatchObject({
      success: false,
      error: { code: 'DOCKER_ERROR', message: 'steamcmd finished without steamapps/workshop/content/4020/668' },
    });
    expect(
      await agent.command({
        action: 'list_files',
        serverId: dbId,
        payload: { path: 'steamapps/workshop/content/4020' },
      }),
    ).toMatchObject({ success: true, data: { files: [expect.objectContaining({ name: '2503622437' })] } });
  });

  it('runs the helper hardened like an install container, on the install network, and removes it', async () => {
    const operationId = await installMod({ workshopId: '777' });
    const helper = await waitFor(
      async () => (await helperContainers(id)).find((c) => c.State === 'running'),
      'the SteamCMD helper to run',
    );
    if (!helper) throw new Error('unreachable: waitFor returns a truthy value');
    const info = await docker.getContainer(helper.Id).inspect();
    expect(info.Config.Image).toBe(STEAMCMD_IMAGE);
    expect(info.Config.Entrypoint).toEqual(['steamcmd']);
    expect(info.Config.Cmd).toEqual([
      '+force_install_dir',
      expect.stringMatching(/^\/mnt\/server\/\.steamcmd-op_[0-9a-f]{16}$/),
      '+login',
      'anonymous',
      '+workshop_download_item',
      '4020',
      '777',
      '+quit',
    ]);
    // None of the server's variables reach the helper.
    expect(info.Config.Env).not.toContain('SRCDS_APPID=4020');
    const h = info.HostConfig;
    expect(h.CapDrop).toEqual(['ALL']);
    expect([...(h.CapAdd ?? [])].sort()).toEqual([...INSTALL_CAPABILITIES].sort());
    expect(h.SecurityOpt).toEqual(['no-new-privileges']);
    expect(h.Privileged).toBe(false);
    expect(h.PidsLimit).toBeGreaterThan(0);
    // The server's 256 MB and 50 % are below the install floors (1024 MB, 100 %).
    expect(h.Memory).toBe(1024 * 1024 * 1024);
    expect(h.MemorySwap).toBe(1024 * 1024 * 1024);
    expect(h.NanoCpus).toBe(1_000_000_000);
    expect(h.NetworkMode).toBe(installNetwork);
    expect(h.Binds).toEqual([`${path.join(agent.dataDir, 'volumes', id)}:/mnt/server`]);
    // The stand-in waits for this file before it downloads.
    await agent.command({ action: 'write_file', serverId: dbId, payload: { path: 'release-777', content: '' } });
    expect(await completed(operationId)).toMatchObject({ success: true });
    expect(await helperContainers(id)).toEqual([]);
  });

  it('refuses at once what SteamCMD cannot take: a non-numeric id, a URL naming another item, the root', async () => {
    expect(
      await agent.command({
        action: 'install_mod',
        serverId: dbId,
        payload: { workshopId: 'abc', modUrl: 'steam://x' },
      }),
    ).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    expect(
      await agent.command({
        action: 'install_mod',
        serverId: dbId,
        payload: { workshopId: '5', downloadUrl: 'steam://workshop/download/6' },
      }),
    ).toMatchObject({ success: false, code: 'INVALID_PAYLOAD' });
    expect(
      await agent.command({ action: 'install_mod', serverId: dbId, payload: { workshopId: '5', targetPath: '/' } }),
    ).toMatchObject({ success: false, code: 'INVALID_PATH' });
  });
});

describe('install steps that name steamcmd', () => {
  it('runs app_update before the script of a step in a SteamCMD image, with the app id of the environment', async () => {
    const sid = uuid();
    await agent.command({
      action: 'create_server',
      serverId: sid,
      payload: {
        image: TEST_IMAGE,
        environment: { SRCDS_APPID: '740' },
        install: {
          container: `~${STEAMCMD_IMAGE}`,
          entrypoint: '/bin/sh',
          script: 'cat /mnt/server/steam-app-740.txt > /mnt/server/after.txt',
        },
      },
    });
    await waitForStatus(agent, sid, 'offline');
    const after = await agent.command({ action: 'read_file', serverId: sid, payload: { path: 'after.txt' } });
    expect(after.data.content).toBe('app 740\n');
    const log = await agent.command({ action: 'get_install_log', serverId: sid });
    expect(log.data.log).toContain("Success! App '740' fully installed.");
    expect(log.data.exitCode).toBe(0);
    expect((await stat(path.join(agent.dataDir, 'volumes', sid, 'steam-app-740.txt'))).uid).toBe(988);
  });

  it('is the whole step when the entrypoint is steamcmd, and fails the install on its error line', async () => {
    const sid = uuid();
    await agent.command({
      action: 'create_server',
      serverId: sid,
      payload: {
        image: TEST_IMAGE,
        environment: { STEAM_APP_ID: '13' },
        install: { entrypoint: 'steamcmd', script: 'never run as a shell script' },
      },
    });
    const failed = await waitForStatus(agent, sid, 'install_failed');
    expect(failed?.data.lastError).toMatchObject({
      action: 'install',
      message: "steamcmd reported: Error! App '13' state is 0x202 after update job.",
    });
    const log = await agent.command({ action: 'get_install_log', serverId: sid });
    expect(log.data.log).toContain('[agent] steamcmd +app_update 13 validate');
  });
});
