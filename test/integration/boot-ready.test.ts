import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { DockerProxy } from '../helpers/docker-proxy.js';
import { type LoggedAgent, startLoggedAgent } from '../helpers/logged-agent.js';

/**
 * /ready waits for the boot's Engine calls only (issue 13): the Engine version is for logs and status pages,
 * and asked before the boot it was one more round trip before /ready on every restart. A slow Engine that holds
 * its /version answer must not hold /ready; the version still arrives and is logged.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const HOLD_MS = 8_000;

describe('boot before /ready', () => {
  it('does not wait for the Engine version', async () => {
    const proxy = new DockerProxy();
    const version = proxy.delay({ method: 'GET', path: /^\/(v[\d.]+\/)?version\b/, ms: HOLD_MS, hold: 'response' });
    await proxy.start();
    cleanups.push(() => proxy.close());
    const t0 = Date.now();
    let agent: LoggedAgent | undefined;
    cleanups.push(async () => agent?.stop());
    agent = await startLoggedAgent({ docker: { host: proxy.dockerHost, apiTimeoutMs: 20_000 } });
    const started = agent;

    await waitFor(async () => (await fetch(`${started.url}/ready`)).status === 200, '/ready', HOLD_MS);
    // Ready while the version answer is still held: nothing before /ready waited for it.
    expect(Date.now() - t0).toBeLessThan(HOLD_MS);
    expect(proxy.held.get(version)).toBe(1);
    expect(started.lines.some((l) => l.msg === 'Docker Engine reachable')).toBe(false);

    // The version still arrives, and the first line says which Engine answered.
    const reachable = await waitFor(
      async () => started.lines.find((l) => l.msg === 'Docker Engine reachable'),
      'the reachable line',
      HOLD_MS + 10_000,
    );
    expect(reachable?.version).toMatch(/^\d+\.\d+/);
  }, 40_000);
});
