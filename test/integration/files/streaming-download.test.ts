import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, startTestAgent, type TestAgent, uuid, waitFor, waitForStatus } from '../../helpers/agent.js';
import { TEST_IMAGE } from '../../helpers/constants.js';

// The download path that writes to the socket itself (send-range.ts through reply.hijack): what Fastify's
// reply.send used to give for free must still hold: headers, HEAD, errors before the body, and a client that
// goes away mid-body leaving no descriptor behind.
let agent: TestAgent;
let id: string;
let root: string;
const auth = () => ({ authorization: `Bearer ${agent.token}` });
const url = (path: string) => `${agent.url}/api/servers/${id}/files/content?path=${encodeURIComponent(path)}`;

/** Descriptors of this process (the agent runs in it) open on `file`. */
const openOn = (file: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;

beforeAll(async () => {
  agent = await startTestAgent();
  id = uuid();
  await agent.command({ action: 'create_server', serverId: id, payload: { image: TEST_IMAGE } });
  await waitForStatus(agent, id, 'offline');
  root = join(agent.dataDir, 'volumes', id);
});

afterAll(async () => {
  await agent.stop();
  await removeDataDir(agent.dataDir);
});

describe('streamed downloads', () => {
  it('carries the security and content headers on the hijacked response, and HEAD sends no body', async () => {
    writeFileSync(join(root, 'notes.txt'), 'hello');
    const get = await fetch(url('/notes.txt'), { headers: auth() });
    expect(get.status).toBe(200);
    expect(get.headers.get('x-content-type-options')).toBe('nosniff');
    expect(get.headers.get('cache-control')).toBe('no-store');
    expect(get.headers.get('content-length')).toBe('5');
    expect(get.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''notes.txt");
    expect(await get.text()).toBe('hello');

    const head = await fetch(url('/notes.txt'), { method: 'HEAD', headers: auth() });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('5');
    expect(await head.text()).toBe('');
  });

  it('refuses a FIFO, a missing file and a path outside the root before any body, with the resource statuses', async () => {
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const fifo = await fetch(url('/pipe'), { headers: auth() });
    expect(fifo.status).toBe(400);
    expect(((await fifo.json()) as { code: string }).code).toBe('INVALID_PATH');
    const missing = await fetch(url('/nope.bin'), { headers: auth() });
    expect(missing.status).toBe(404);
    const outside = await fetch(url('../../../etc/passwd'), { headers: auth() });
    expect(((await outside.json()) as { code: string }).code).toBe('PATH_OUTSIDE_ROOT');
  });

  it('closes the file when the client goes away mid-download, and keeps serving', async () => {
    const file = join(root, 'world.bin');
    writeFileSync(file, randomBytes(64 * 1024 * 1024));
    const { port } = new URL(agent.url);
    const path = `/api/servers/${id}/files/content?path=${encodeURIComponent('/world.bin')}`;
    await new Promise<void>((resolve, reject) => {
      let received = 0;
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${agent.token}\r\n\r\n`);
      });
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // Gone after the first megabytes, long before the 64 MiB end: the agent is mid-body.
        if (received > 2 * 1024 * 1024) socket.destroy();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await waitFor(async () => openOn(file) === 0, 'the agent to close the downloaded file');
    const after = await fetch(url('/notes.txt'), { headers: auth() });
    expect(await after.text()).toBe('hello');
  });
});
