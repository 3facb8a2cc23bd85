import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

let zip: Buffer;
const webhooks: Record<string, unknown>[] = [];
let failNextWebhook = true;
const site = createServer((req, res) => {
  if (req.url === '/files/cool-mod.zip') {
    res.writeHead(200, { 'content-length': zip.length }).end(zip);
  } else if (req.url === '/redirect') {
    res.writeHead(302, { location: '/files/cool-mod.zip' }).end();
  } else if (req.url === '/api/workshop/webhook/status' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      // The first call fails with 503: the outbox must retry it.
      if (failNextWebhook) {
        failNextWebhook = false;
        res.writeHead(503).end();
        return;
      }
      webhooks.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    });
  } else res.writeHead(404).end();
});
let agent: TestAgent;
let base: string;
let id: string;
const dbId = `cm${uuid().slice(0, 11)}`;

beforeAll(async () => {
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from('mod content'), 'addons/mod.txt');
  z.end();
  const chunks: Buffer[] = [];
  zip = await new Promise((resolve) => {
    z.outputStream.on('data', (c: Buffer) => chunks.push(c));
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  agent = await startTestAgent({ panel: { url: base }, mods: { allowPrivateAddresses: true, allowHttp: true } });
  id = uuid();
  await agent.command({
    action: 'create_server',
    serverId: id,
    payload: { image: TEST_IMAGE, environment: { SRCDS_APPID: '4020' } },
  });
  await waitForStatus(agent, id, 'offline');
  await agent.command({ action: 'add_alias', serverId: id, payload: { alias: dbId } });
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
  site.close();
});

describe('install_mod', () => {
  it('downloads through a redirect, extracts into the workshop folder and tells the panel with the ids it received', async () => {
    const r = await agent.command({
      action: 'install_mod',
      serverId: dbId,
      payload: { type: 'steam_workshop', workshopId: 2503622437, downloadUrl: `${base}/redirect` },
    });
    expect(r).toMatchObject({
      success: true,
      data: { serverId: dbId, workshopId: '2503622437', status: 'installing' },
    });
    expect(r.data.operationId).toMatch(/^op_/);
    const hook = await waitFor(async () => webhooks.find((w) => w.workshopId === '2503622437'), 'the webhook', 20_000);
    expect(hook).toEqual({ serverId: dbId, workshopId: '2503622437', status: 'COMPLETED' });
    const file = await agent.command({
      action: 'read_file',
      serverId: dbId,
      payload: { path: 'steamapps/workshop/content/4020/2503622437/addons/mod.txt' },
    });
    expect(file.data.content).toBe('mod content');
  });

  it('refuses synchronously without an app id, and fetches steam:// with SteamCMD', async () => {
    const other = uuid();
    await agent.command({ action: 'create_server', serverId: other, payload: { image: TEST_IMAGE } });
    await waitForStatus(agent, other, 'offline');
    expect(await agent.command({ action: 'install_mod', serverId: other, payload: { workshopId: '1' } })).toMatchObject(
      {
        success: false,
        code: 'CONFIG_INVALID',
      },
    );
    await agent.command({ action: 'install_mod', serverId: dbId, payload: { modId: '77', modUrl: 'steam://77' } });
    const hook = await waitFor(async () => webhooks.find((w) => w.workshopId === '77'), 'the webhook', 20_000);
    // The stand-in SteamCMD of the test config (test/helpers/steamcmd-image.mjs); steamcmd.test.ts has the rest.
    expect(hook).toEqual({ serverId: dbId, workshopId: '77', status: 'COMPLETED' });
    const file = await agent.command({
      action: 'read_file',
      serverId: dbId,
      payload: { path: 'steamapps/workshop/content/4020/77/mod.txt' },
    });
    expect(file.data.content).toBe('workshop item 77 for app 4020\n');
  });

  it('never downloads from a private or loopback address unless configured to', async () => {
    // http allowed so that the address guard, not the https rule, is what refuses this local site.
    const strict = await startTestAgent({ panel: { url: base }, mods: { allowHttp: true } });
    try {
      const sid = uuid();
      await strict.command({
        action: 'create_server',
        serverId: sid,
        payload: { image: TEST_IMAGE, environment: { APP_ID: '1' } },
      });
      await waitForStatus(strict, sid, 'offline');
      await strict.command({
        action: 'install_mod',
        serverId: sid,
        payload: { workshopId: '909', downloadUrl: `${base}/files/cool-mod.zip` },
      });
      const hook = await waitFor(
        async () => webhooks.find((w) => w.workshopId === '909'),
        'the FAILED webhook',
        20_000,
      );
      expect(hook).toMatchObject({ status: 'FAILED' });
      expect(String(hook?.error)).toMatch(/private, local or special-purpose address: loopback/);
    } finally {
      await strict.stop();
      await removeDataDir(strict.dataDir);
    }
  });

  it('checks an optional sha256 of the download', async () => {
    const { createHash } = await import('node:crypto');
    const good = createHash('sha256').update(zip).digest('hex');
    const url = `${base}/files/cool-mod.zip`;
    await agent.command({
      action: 'install_mod',
      serverId: dbId,
      payload: { workshopId: '555', downloadUrl: url, sha256: good },
    });
    await agent.command({
      action: 'install_mod',
      serverId: dbId,
      payload: { workshopId: '556', downloadUrl: url, sha256: 'a'.repeat(64) },
    });
    expect(await waitFor(async () => webhooks.find((w) => w.workshopId === '555'), 'good sum', 20_000)).toMatchObject({
      status: 'COMPLETED',
    });
    const bad = await waitFor(async () => webhooks.find((w) => w.workshopId === '556'), 'bad sum', 20_000);
    expect(bad).toMatchObject({ status: 'FAILED' });
    expect(String(bad?.error)).toContain('sha256');
  });
});
