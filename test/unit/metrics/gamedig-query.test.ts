import { createServer } from 'node:http';
import module from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deferGamedigGot } from '../../../src/metrics/gamedig-lazy-got.js';
import { gamedigQuery } from '../../../src/metrics/gamedig-query.js';
import { PermanentQueryError } from '../../../src/metrics/query-scheduler.js';

/**
 * The gamedig adapter with the real library: an HTTP-based protocol (Eco: GET /frontpage) answered by a local
 * server shows that the deferred `got` (gamedig-lazy-got.ts) still carries requests, and a hook of our own that
 * records what the loader loads shows that the real got is loaded only by the first HTTP query, not by the import.
 */
const loaded: string[] = [];
let server: ReturnType<typeof createServer>;
let port: number;

beforeAll(async () => {
  // Hooks run last-registered first: the recorder goes on top of the stand-in so it sees the stand-in's URL too.
  deferGamedigGot();
  module.registerHooks({
    load(url, context, nextLoad) {
      loaded.push(url);
      return nextLoad(url, context);
    },
  });
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        Info: { Description: 'Eco test', OnlinePlayers: 3, TotalPlayers: 40, OnlinePlayersNames: ['a', 'b', 'c'] },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const realGot = () => loaded.filter((u) => /\/node_modules\/got\/dist\/source\/index\.js$/.test(u));

describe('gamedigQuery', () => {
  it('loads gamedig on the first query, with got deferred until an HTTP protocol needs it', async () => {
    const query = gamedigQuery();
    expect(loaded.some((u) => u.includes('/node_modules/gamedig/'))).toBe(false);
    await expect(query({ type: 'no-such-game', host: '127.0.0.1', port }, 2000)).rejects.toThrow(PermanentQueryError);
    expect(loaded.some((u) => u.includes('/node_modules/gamedig/lib/index.js'))).toBe(true);
    expect(loaded.some((u) => u.startsWith('cap-lazy-got:'))).toBe(true);
    expect(realGot()).toEqual([]);

    const answer = await query({ type: 'eco', host: '127.0.0.1', port }, 2000);
    expect(answer).toMatchObject({ players: 3, maxPlayers: 40, name: 'Eco test' });
    expect(realGot()).toHaveLength(1);
  });

  it('accepts protocol-<name> ids and reports the cause of a failure, not "Failed all 1 attempts"', async () => {
    const query = gamedigQuery();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const failure = await query({ type: 'protocol-eco', host: '127.0.0.1', port: deadPort }, 1000).catch((e) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(PermanentQueryError);
    expect(failure.message).not.toContain('Failed all');
    expect(failure.message).toMatch(/ECONNREFUSED|refused|closed|timeout/i);
  });
});
