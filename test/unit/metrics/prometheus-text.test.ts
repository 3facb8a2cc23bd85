import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListen, startMetricsListener } from '../../../src/api/http/metrics-routes.js';
import { configSchema } from '../../../src/config/schema.js';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from '../../../src/metrics/prometheus-text.js';
import { parseMetrics, sampleValue } from '../../helpers/prometheus-parser.js';

/** Any code point, with the characters the format escapes (and look-alikes of escapes) drawn often. */
const hostileChar = fc.oneof(
  fc.constantFrom('"', '\\', '\n', 'n', '\\n', '}', ',', '=', ' '),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

describe('renderExposition', () => {
  it('round-trips hostile label values and any finite value through a real text-format parser', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: hostileChar, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (ids, value) => {
          const unique = [...new Set(ids)];
          const text = renderExposition([
            {
              name: 'x_server_value',
              help: 'help with \\ and\nnewline',
              type: 'gauge',
              samples: unique.map((id) => ({ labels: { server_id: id }, value })),
            },
          ]);
          const family = parseMetrics(text).get('x_server_value');
          expect(family?.type).toBe('GAUGE');
          expect(family?.help).toBe('help with \\ and\nnewline');
          expect(family?.metrics.map((m) => m.labels?.server_id)).toEqual(unique);
          for (const m of family?.metrics ?? []) expect(Number(m.value)).toBe(value === 0 ? 0 : value);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('writes NaN and infinities the way the format spells them, and counters as counters', () => {
    const text = renderExposition([
      { name: 'a', help: 'a', type: 'gauge', samples: [{ labels: { k: 'nan' }, value: Number.NaN }] },
      { name: 'b', help: 'b', type: 'gauge', samples: [{ value: Number.POSITIVE_INFINITY }] },
      { name: 'c_total', help: 'c', type: 'counter', samples: [{ value: 3 }] },
    ]);
    expect(text).toContain('a{k="nan"} NaN\n');
    expect(text).toContain('b +Inf\n');
    const families = parseMetrics(text);
    expect(families.get('c_total')?.type).toBe('COUNTER');
    expect(sampleValue(families, 'c_total')).toBe(3);
  });

  it('refuses names that would corrupt the page (a programming error, not input)', () => {
    expect(() => renderExposition([{ name: 'bad name', help: '', type: 'gauge', samples: [] }])).toThrow();
    expect(() =>
      renderExposition([
        { name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] },
      ]),
    ).toThrow();
    expect(() =>
      renderExposition([
        { name: 'dup', help: '', type: 'gauge', samples: [] },
        { name: 'dup', help: '', type: 'gauge', samples: [] },
      ]),
    ).toThrow();
  });
});

describe('metrics.listen', () => {
  const TOKEN = 'm'.repeat(40);
  const page = renderExposition([
    { name: 'ctrl_alt_play_agent_up', help: 'up', type: 'gauge', samples: [{ value: 1 }] },
  ]);
  let withAuth: Awaited<ReturnType<typeof startMetricsListener>>;
  let open: Awaited<ReturnType<typeof startMetricsListener>>;
  beforeAll(async () => {
    const common = { authFailuresPerMinute: 2, render: () => page, log: pino({ level: 'silent' }) };
    withAuth = await startMetricsListener({
      ...common,
      listen: '127.0.0.1:0',
      matches: (candidate) => candidate === TOKEN,
    });
    open = await startMetricsListener({ ...common, listen: '127.0.0.1:0', matches: undefined });
  });
  afterAll(async () => {
    await withAuth.close();
    await open.close();
  });

  it('serves the page with the token, refuses without it, and rate-limits failures', async () => {
    const url = `http://127.0.0.1:${withAuth.port}/metrics`;
    const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe(EXPOSITION_CONTENT_TYPE);
    expect(sampleValue(parseMetrics(await ok.text()), 'ctrl_alt_play_agent_up')).toBe(1);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await fetch(`http://127.0.0.1:${withAuth.port}/health`)).status).toBe(404);
  });

  it('serves without a token when metrics.auth is false', async () => {
    const res = await fetch(`http://127.0.0.1:${open.port}/metrics`);
    expect(res.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${open.port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('parses host:port and [v6]:port; auth can be off only on a listener of its own', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    const base = { nodeId: 'n', dataDir: '/tmp/x' };
    expect(configSchema.safeParse({ ...base, metrics: { auth: false } }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, metrics: { listen: 'localhost' } }).success).toBe(false);
    expect(configSchema.parse({ ...base, metrics: { auth: 'false', listen: '127.0.0.1:9464' } }).metrics).toMatchObject(
      {
        auth: false,
        listen: '127.0.0.1:9464',
      },
    );
  });
});
