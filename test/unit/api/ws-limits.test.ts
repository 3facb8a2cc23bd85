import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSocket } from '../../helpers/ws-client.js';
import {
  closeOf,
  maskedTextHeader,
  rawCloseCode,
  rawUpgrade,
  startWsApp,
  upgradeStatus,
  type WsApp,
} from './ws-harness.js';

/** Security review finding 7: what an unauthenticated or abusive peer can make the agent hold and do. */

describe('frame size while data arrives', { timeout: 10_000 }, () => {
  let app: WsApp;
  beforeAll(async () => {
    app = await startWsApp({ maxPayloadBytes: 2 * 1024 * 1024 });
  });
  afterAll(() => app.close());

  it('closes 1009 on a frame header that declares more than the pre-auth limit, before the payload arrives', async () => {
    const raw = await rawUpgrade(app.url);
    const code = rawCloseCode(raw);
    // 1 MiB declared (under the 2 MiB post-auth limit of this app, as 60 MiB is under the default 70 MiB), 4 KiB
    // sent: the old code waited for, and buffered, the whole frame before its 16 KiB check.
    raw.write(Buffer.concat([maskedTextHeader(1024 * 1024), Buffer.alloc(4096, 0x20)]));
    expect(await code).toBe(1009);
  });

  it('keeps the pre-auth limit for a ticket socket and raises it only for the node token', async () => {
    const { ticket } = app.signer.mint('srv-a', ['console.read'], 60);
    const browser = await app.open();
    expect((await browser.request({ type: 'auth', id: 'a', ticket })).success).toBe(true);
    const browserClosed = closeOf(browser);
    browser.send({ type: 'ping', id: 'big', pad: 'x'.repeat(20 * 1024) });
    expect((await browserClosed).code).toBe(1009);

    const node = await app.openNode();
    const r = await node.request({
      type: 'command',
      id: 'c',
      action: 'echo_node',
      payload: { blob: 'y'.repeat(1024 * 1024) },
    });
    expect(r).toMatchObject({ success: true, data: { length: 1024 * 1024 } });
    const nodeClosed = closeOf(node);
    node.send({ type: 'ping', id: 'huge', pad: 'z'.repeat(2 * 1024 * 1024) });
    expect((await nodeClosed).code).toBe(1009);
  });

  it('raises the limit for a socket that authenticated with an auth frame and the node token', async () => {
    const s = await app.open();
    expect((await s.request({ type: 'auth', id: 'a', token: app.token.current() })).success).toBe(true);
    await s.next((f) => f.type === 'hello');
    const r = await s.request({
      type: 'command',
      id: 'c',
      action: 'echo_node',
      payload: { blob: 'y'.repeat(100_000) },
    });
    expect(r).toMatchObject({ success: true, data: { length: 100_000 } });
  });
});

describe('unauthenticated sockets', { timeout: 10_000 }, () => {
  let app: WsApp;
  beforeAll(async () => {
    app = await startWsApp({ ws: { maxConnections: 5, maxUnauthenticated: 3, authTimeoutMs: 1500 } });
  });
  afterAll(() => app.close());

  it('have a cap of their own: a flood of idle ones neither fills the connection cap nor locks a client out', async () => {
    const idle: TestSocket[] = [];
    for (let i = 0; i < 6; i++) idle.push(await app.open());
    // Past the pre-auth cap the oldest idle sockets make room.
    const evicted = await Promise.all(idle.slice(0, 3).map(closeOf));
    expect(evicted.map((c) => c.code)).toEqual([1013, 1013, 1013]);

    const header = await app.openNode();
    header.send({ type: 'ping', id: 'p' });
    await header.next((f) => f.type === 'pong' && f.id === 'p');

    const frame = await app.open();
    const ok = await frame.request({ type: 'auth', id: 'a', token: app.token.current() });
    expect(ok).toMatchObject({ success: true });
    await frame.next((f) => f.type === 'hello');
    expect(frame.ws.readyState).toBe(frame.ws.OPEN);
  });

  it('are closed 4401 when they do not authenticate in time', async () => {
    const silent = await app.open();
    const started = Date.now();
    expect(await closeOf(silent)).toEqual({ code: 4401, reason: 'authentication timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('do not count toward the authenticated cap, which still holds', async () => {
    const extra: TestSocket[] = [];
    for (let i = 0; i < 8; i++) extra.push(await app.open({ authorization: `Bearer ${app.token.current()}` }));
    const refused = await Promise.race(extra.map((s) => closeOf(s)));
    expect(refused).toEqual({ code: 1013, reason: 'too many connections' });
    for (const s of extra) s.ws.terminate();
  });
});

describe('failed auth frames', { timeout: 10_000 }, () => {
  let app: WsApp;
  beforeAll(async () => {
    app = await startWsApp({ authFailuresPerMinute: 3 });
  });
  afterAll(() => app.close());

  it('count in the per-address limiter that HTTP 401s use: past it, RATE_LIMITED and close', async () => {
    // Opened first, before the limit is reached, to show that an open socket is refused as well.
    const waiting = await app.open();
    for (let i = 0; i < 4; i++) {
      const bad = await app.open();
      const no = await bad.request({ type: 'auth', id: 'a', token: `wrong-${i}` });
      expect(no).toMatchObject({ success: false, error: { code: 'AUTH_FAILED' } });
      expect(await bad.closed).toBe(4401);
    }
    const limited = await waiting.request({ type: 'auth', id: 'a', token: app.token.current() });
    expect(limited).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    expect((await closeOf(waiting)).code).toBe(4429);

    // The same limiter: HTTP now refuses this address too, even with the right token.
    const http = await fetch(`${app.url}/api/status`, { headers: { authorization: `Bearer ${app.token.current()}` } });
    expect(http.status).toBe(429);
    expect(await upgradeStatus(app.url)).toBe(429);
  });
});

describe('per-socket frame budget', { timeout: 10_000 }, () => {
  let app: WsApp;
  beforeAll(async () => {
    app = await startWsApp({ ws: { framesPerSecond: 50, frameBurst: 100 } });
  });
  afterAll(() => app.close());

  it('throttles then closes a ping flood, while /health on another connection stays fast', async () => {
    const flooder = await app.openNode();
    const closed = closeOf(flooder);
    const limited = flooder.next((f) => f.type === 'response' && f.error?.code === 'RATE_LIMITED');
    for (let i = 0; i < 5_000; i++) flooder.send({ type: 'ping', id: `p${i}` });
    const started = Date.now();
    const health = await fetch(`${app.url}/health`);
    const healthMs = Date.now() - started;
    expect(health.status).toBe(200);
    expect(healthMs).toBeLessThan(2_000);
    expect((await limited).id).toMatch(/^p\d+$/);
    expect(await closed).toEqual({ code: 4429, reason: 'rate limit exceeded' });
    const pongs = flooder.frames.filter((f) => f.type === 'pong').length;
    // The burst and a little refill, not 5,000.
    expect(pongs).toBeGreaterThanOrEqual(100);
    expect(pongs).toBeLessThan(200);
  });

  it('counts subscribes and unsubscribes too', async () => {
    const s = await app.openNode();
    const closed = closeOf(s);
    for (let i = 0; i < 1_000; i++) s.send({ type: i % 2 ? 'unsubscribe' : 'subscribe', id: `s${i}` });
    expect((await closed).code).toBe(4429);
    expect(s.frames.some((f) => f.error?.code === 'RATE_LIMITED')).toBe(true);
  });

  it('leaves a client within its budget alone', async () => {
    const s = await app.openNode();
    for (let i = 0; i < 50; i++) {
      s.send({ type: 'ping', id: `ok${i}` });
      await s.next((f) => f.type === 'pong' && f.id === `ok${i}`);
    }
    expect(s.frames.some((f) => f.error?.code === 'RATE_LIMITED')).toBe(false);
  });
});

describe('refused upgrades', { timeout: 10_000 }, () => {
  let app: WsApp;
  beforeAll(async () => {
    app = await startWsApp();
  });
  afterAll(() => app.close());

  it('end the socket after the 401 instead of leaving it half-open', async () => {
    const { port, hostname } = new URL(app.url);
    const socket = connect({ port: Number(port), host: hostname });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `GET /api/ws HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer wrong\r\n\r\n',
    );
    await closed;
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 401/);
  });
});
