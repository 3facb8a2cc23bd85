import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

const serverUuid = uuid();
const dbId = `cm${uuid().slice(0, 11)}`;
const seen: { url: string; auth: string | undefined }[] = [];
const panel = createServer((req, res) => {
  seen.push({ url: req.url ?? '', auth: req.headers.authorization });
  if (req.headers.authorization !== 'Bearer panel-user-jwt') {
    res.writeHead(401).end('{"error":"unauthorized"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      success: true,
      data: [
        { id: dbId, uuid: serverUuid, name: 'x' },
        { id: 'cmother', uuid: 'unknown-uuid' },
      ],
    }),
  );
});
let agent: TestAgent;

beforeAll(async () => {
  await new Promise<void>((resolve) => panel.listen(0, '127.0.0.1', () => resolve()));
  const { port } = panel.address() as AddressInfo;
  agent = await startTestAgent({
    nodeId: 'node-uuid-1',
    panel: { url: `http://127.0.0.1:${port}`, apiToken: 'panel-user-jwt' },
  });
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
  panel.close();
});

describe('panel alias lookup', () => {
  it('learns the database id of a known server from the panel when an unknown id arrives', async () => {
    await agent.command({ action: 'create_server', serverId: serverUuid, payload: { image: TEST_IMAGE } });
    await waitForStatus(agent, serverUuid, 'offline');
    const r = await agent.command({ action: 'get_server_status', serverId: dbId });
    expect(r).toMatchObject({ success: true, data: { serverId: dbId, status: 'offline' } });
    const lookup = seen.find((s) => s.url === '/api/agents/node-uuid-1/servers');
    expect(lookup?.auth).toBe('Bearer panel-user-jwt');
    // Ids the panel lists for servers this node does not have are not turned into aliases.
    expect((await agent.command({ action: 'get_server_status', serverId: 'cmother' })).code).toBe('SERVER_NOT_FOUND');
  });
});
