import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/agent.js';
import { type LoggedAgent, startLoggedAgent } from '../../helpers/logged-agent.js';

/**
 * An agent started without a usable Engine must say so from the start (issue 12): a log line, /ready with
 * `docker_unreachable` instead of `starting` forever, /health degraded while keeping the panel's fields. No
 * Docker is needed: the socket is missing, or a stand-in at the seam we own (a unix socket that accepts and
 * never answers: a hung dockerd).
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startAgainst(dockerHost: string): Promise<LoggedAgent> {
  const started = await startLoggedAgent({ docker: { host: dockerHost, healthIntervalMs: 100, apiTimeoutMs: 250 } });
  cleanups.push(() => started.stop());
  return started;
}

/** /health must answer at once whatever the Engine does: it reads a cached state. */
async function health(url: string): Promise<Record<string, any>> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

async function expectDegraded(started: LoggedAgent, reason: RegExp) {
  const line = (await waitFor(
    async () => started.lines.find((l) => /Docker Engine unreachable at start/.test(l.msg)),
    'the unreachable log line',
    10_000,
  )) as Record<string, any>;
  expect([50, 'error']).toContain(line.level); // numeric today; string levels are coming (issue 12)
  expect(line.code).toBe('DOCKER_UNAVAILABLE');
  expect(line.reason).toMatch(reason);
  const ready = await fetch(`${started.url}/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ ready: false, reason: 'docker_unreachable' });
  expect(await health(started.url)).toMatchObject({
    status: 'healthy',
    connected: true,
    docker: 'unreachable',
    degraded: ['docker_unreachable'],
  });
}

describe('an agent started without a reachable Docker Engine', () => {
  it('with no socket at all: logs it, /ready says docker_unreachable, /health is degraded', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cap-no-docker-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const started = await startAgainst(`unix://${path.join(dir, 'docker.sock')}`);
    await expectDegraded(started, /ENOENT/);
  });

  it('with a hung socket: the same, and it never holds more than one connection to it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cap-hung-docker-'));
    const open = new Set<Socket>();
    let accepted = 0;
    const hung: Server = createServer((socket) => {
      accepted++;
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => undefined);
      socket.resume(); // read the request, answer nothing
    });
    hung.listen(path.join(dir, 'docker.sock'));
    await once(hung, 'listening');
    cleanups.push(async () => {
      for (const socket of open) socket.destroy();
      await new Promise((r) => hung.close(r));
      await rm(dir, { recursive: true, force: true });
    });

    const started = await startAgainst(`unix://${path.join(dir, 'docker.sock')}`);
    await expectDegraded(started, /did not answer ping within 250 ms/);
    // Several health checks later (each one a ping that times out), connections were opened and released.
    const peaks: number[] = [];
    await waitFor(
      async () => {
        peaks.push(open.size);
        await health(started.url);
        return accepted >= 6;
      },
      'six health pings',
      15_000,
    );
    expect(Math.max(...peaks)).toBeLessThanOrEqual(1);
    expect(started.lines.filter((l) => /Docker Engine unreachable/.test(l.msg))).toHaveLength(1);
  });
});
