import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TicketClaims } from '../../../src/protocol/tickets.js';
import { closeOf, startWsApp, upgradeStatus, type WsApp } from './ws-harness.js';

/** Security review finding 8: tickets end when they expire, the token ends every socket it opened, and the
 * ticket check sees the command the dispatcher will run. */

let app: WsApp;
beforeAll(async () => {
  app = await startWsApp();
});
afterAll(() => app.close());

async function ticketSocket(perms: TicketClaims['perms'], ttlSeconds = 60, serverId = 'srv-a') {
  const { ticket } = app.signer.mint(serverId, perms, ttlSeconds);
  const s = await app.open();
  expect((await s.request({ type: 'auth', id: 'a', ticket })).success).toBe(true);
  return s;
}

describe('ticket expiry', { timeout: 10_000 }, () => {
  it('closes a ticket socket when its ticket expires, without the client sending anything', async () => {
    // 2 s, not 1: expiry is whole seconds (floor(now) + ttl), so a 1 s ticket can lapse before a loaded machine
    // has checked the auth frame that presents it.
    const s = await ticketSocket(['console.read'], 2);
    const started = Date.now();
    expect(await closeOf(s)).toEqual({ code: 4401, reason: 'ticket expired' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe('token rotation', { timeout: 10_000 }, () => {
  it('closes every socket opened with the old token or its tickets; the new token works at once', async () => {
    const old = app.token.current();
    const header = await app.openNode();
    const frame = await app.open();
    expect((await frame.request({ type: 'auth', id: 'a', token: old })).success).toBe(true);
    const browser = await ticketSocket(['console.read']);
    const pending = await app.open();
    const closes = [header, frame, browser].map(closeOf);

    app.token.rotate('n'.repeat(40));
    for (const c of await Promise.all(closes)) expect(c).toEqual({ code: 4401, reason: 'token rotated' });

    // A socket still waiting for its auth frame may authenticate, but only with the new token.
    const stale = await pending.request({ type: 'auth', id: 'a', token: old });
    expect(stale).toMatchObject({ success: false, error: { code: 'AUTH_FAILED' } });
    expect(await upgradeStatus(app.url, { authorization: `Bearer ${old}` })).toBe(401);
    const fresh = await app.openNode();
    fresh.send({ type: 'ping', id: 'p' });
    await fresh.next((f) => f.type === 'pong');
    const { ticket } = app.signer.mint('srv-a', ['console.read'], 60);
    const again = await app.open();
    expect((await again.request({ type: 'auth', id: 'a', ticket })).success).toBe(true);
  });
});

describe('ticket guard on the normalised command', { timeout: 10_000 }, () => {
  it('allows an action alias and a payload serverId that name what the ticket allows', async () => {
    const s = await ticketSocket(['console.read', 'console.command']);
    const aliased = await s.request({
      type: 'command',
      id: 'c1',
      action: 'send_server_command',
      serverId: 'srv-a',
      payload: { command: 'hi' },
    });
    expect(aliased).toMatchObject({ success: true, data: { serverId: 'srv-a' } });
    const inPayload = await s.request({
      type: 'command',
      id: 'c2',
      action: 'get_status',
      payload: { serverId: 'srv-a' },
    });
    expect(inPayload).toMatchObject({ success: true, data: { serverId: 'srv-a' } });
    const nested = await s.request({ type: 'command', id: 'c3', data: { action: 'get_status', serverId: 'srv-a' } });
    expect(nested).toMatchObject({ success: true, data: { serverId: 'srv-a' } });
  });

  it('refuses an alias or a payload serverId that reaches past the ticket', async () => {
    const s = await ticketSocket(['console.read']);
    const before = app.ran.length;
    const elsewhere = await s.request({
      type: 'command',
      id: 'c1',
      action: 'get_status',
      payload: { serverId: 'srv-b' },
    });
    expect(elsewhere).toMatchObject({ success: false, error: { code: 'PERMISSION_DENIED' } });
    const inData = await s.request({
      type: 'command',
      id: 'c2',
      action: 'get_server_status',
      data: { serverId: 'srv-b' },
    });
    expect(inData).toMatchObject({ success: false, error: { code: 'PERMISSION_DENIED' } });
    const file = await s.request({ type: 'command', id: 'c3', action: 'get_file', serverId: 'srv-a' });
    expect(file).toMatchObject({ success: false, error: { code: 'PERMISSION_DENIED' } });
    const aliasPower = await s.request({ type: 'command', id: 'c4', action: 'send_server_command', serverId: 'srv-a' });
    expect(aliasPower).toMatchObject({ success: false, error: { code: 'PERMISSION_DENIED' } });
    expect(app.ran.slice(before)).toEqual([]);
  });
});
