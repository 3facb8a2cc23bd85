import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../../src/docker/runtime.js';

/**
 * A hung Engine: a unix socket that accepts connections and never answers. It is a stand-in at a seam we own
 * (the socket the runtime dials), counting the connections the client side still holds open.
 */
let dir: string;
let server: Server;
let open: Set<Socket>;
let accepted: number;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cap-hung-docker-'));
  open = new Set();
  accepted = 0;
  server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    socket.resume(); // read the request, answer nothing
  });
  server.listen(path.join(dir, 'docker.sock'));
  await once(server, 'listening');
});

afterEach(async () => {
  for (const socket of open) socket.destroy();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

function hungRuntime(apiTimeoutMs = 50): DockerRuntime {
  return new DockerRuntime({
    agentId: 'agt_test_hung',
    host: `unix://${path.join(dir, 'docker.sock')}`,
    apiTimeoutMs,
    pullTimeoutMs: apiTimeoutMs,
    logger: pino({ level: 'silent' }),
  });
}

/** Lets the client's destroyed sockets reach the server as 'close' (a few loop turns, no fixed sleep). */
async function settle(): Promise<void> {
  for (let i = 0; i < 200 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('calls against a hung Engine', () => {
  it('release their connection when they time out (the health ping no longer leaks a socket per tick)', async () => {
    const runtime = hungRuntime();
    const pings = 25;
    for (let i = 0; i < pings; i++) expect(await runtime.ping(30)).toBe(false);
    await settle();
    // Every ping reached the fake Engine (the test measures something), and none is still held open.
    expect(accepted).toBe(pings);
    expect(open.size).toBe(0);
  });

  it('time out as DOCKER_UNAVAILABLE and release the socket, for every kind of call', async () => {
    const runtime = hungRuntime();
    const calls: [string, () => Promise<unknown>][] = [
      ['version', () => runtime.version()],
      ['listManaged', () => runtime.listManaged()],
      ['status', () => runtime.status('abc')],
      ['createContainer', () => runtime.createContainer({ name: 'x', Image: 'y' })],
      ['start', () => runtime.start('abc')],
      ['kill', () => runtime.kill('abc', 'SIGKILL')],
      ['remove', () => runtime.remove('abc')],
      ['statsOnce', () => runtime.statsOnce('abc')],
      ['logTail', () => runtime.logTail('abc', 10)],
      ['attach', () => runtime.attach('abc')],
      ['inspectImage', () => runtime.inspectImage('busybox')],
      ['ensureNetwork', () => runtime.ensureNetwork('n')],
      ['pull', () => runtime.pullImage('busybox:latest', () => undefined)],
    ];
    for (const [name, call] of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toMatchObject({ code: 'DOCKER_UNAVAILABLE' });
      expect((err as Error).message, name).toMatch(/did not answer .* within 50 ms/);
    }
    await settle();
    expect(accepted).toBeGreaterThanOrEqual(calls.length);
    expect(open.size).toBe(0);
  });
});
