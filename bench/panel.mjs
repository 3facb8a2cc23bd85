// Issue 6 figures: a command's round trip over the panel link against the same command over HTTP (same run),
// and the time from the panel coming back to the link being established again.
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { WebSocketServer } from 'ws';
import { startAgentProcess } from '../test/helpers/agent-process.mjs';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/test-image.mjs';
import { request } from './lib/http.mjs';
import { percentile, waitFor } from './lib/measure.mjs';

function panelServer(port) {
  return new Promise((resolve) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port });
    server.once('listening', () => resolve(server));
    server.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'welcome', id: 'h' }));
      server.emit('agent', socket);
    });
  });
}

export async function run(record) {
  await ensureTestImage(new Docker());
  let panel = await panelServer(0);
  const port = panel.address().port;
  const connected = new Promise((resolve) => panel.once('agent', resolve));
  const agent = await startAgentProcess({}, { panel: { url: `http://127.0.0.1:${port}` } });
  try {
    let socket = await connected;
    const id = randomBytes(16).toString('hex');
    await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE } });
    await waitFor(
      async () => (await agent.command({ action: 'get_server_status', serverId: id })).data?.status === 'offline',
      'install',
    );

    const pending = new Map();
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'response') pending.get(frame.id)?.();
    });
    const overLink = (n) =>
      new Promise((resolve) => {
        pending.set(`c${n}`, resolve);
        socket.send(JSON.stringify({ type: 'command', id: `c${n}`, action: 'get_server_status', serverId: id }));
      });
    const body = JSON.stringify({ action: 'get_server_status', serverId: id });
    const headers = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' };
    const overHttp = () => request({ url: agent.url, path: '/api/command', method: 'POST', headers, body });
    const time = async (fn) => {
      const samples = [];
      for (let i = 0; i < 50; i++) await fn(i);
      for (let i = 0; i < 500; i++) {
        const t0 = performance.now();
        await fn(1000 + i);
        samples.push(performance.now() - t0);
      }
      return percentile(
        samples.sort((a, b) => a - b),
        50,
      );
    };
    const link = await time(overLink);
    const http = await time(overHttp);
    record({ name: 'command round trip over the panel link (p50)', value: link, unit: 'ms' });
    record({ name: 'same command over HTTP (p50)', value: http, unit: 'ms' });
    record({
      name: 'panel link / HTTP round-trip ratio',
      value: link / http,
      unit: 'x',
      target: '<= 1',
      pass: link <= http,
    });

    // The panel goes away for a few seconds and comes back on the same port.
    for (const client of panel.clients) client.terminate();
    await new Promise((resolve) => panel.close(resolve));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const back = performance.now();
    panel = await panelServer(port);
    socket = await new Promise((resolve) => panel.once('agent', resolve));
    const reconnectMs = performance.now() - back;
    record({
      name: 'time to reconnect after the panel comes back (3 s outage)',
      value: reconnectMs,
      unit: 'ms',
      target: '< 8000 (back-off cap after 3 s)',
      pass: reconnectMs < 8000,
    });
  } finally {
    for (const client of panel.clients) client.terminate();
    panel.close();
    await agent.stop();
  }
}
