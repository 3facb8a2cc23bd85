import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/docker/runtime.js';

const docker = new Docker();
const name = `ctrl-alt-play-nettest-${randomBytes(4).toString('hex')}`;

async function copies() {
  return (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
}

afterAll(async () => {
  for (const n of await copies()) await docker.getNetwork(n.Id).remove();
});

describe('the agent network', () => {
  it('ends as exactly one network when several agents create it at once (the Engine lets duplicates through)', async () => {
    const runtimes = Array.from(
      { length: 4 },
      (_, i) =>
        new DockerRuntime({
          agentId: `agt_test_net_${i}`,
          host: undefined,
          apiTimeoutMs: 10_000,
          pullTimeoutMs: 10_000,
          logger: pino({ level: 'silent' }),
        }),
    );
    await Promise.all(runtimes.map((r) => r.ensureNetwork(name)));
    const after = await copies();
    expect(after).toHaveLength(1);
    expect(after[0]?.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
    // Idempotent afterwards.
    await runtimes[0]?.ensureNetwork(name);
    expect(await copies()).toHaveLength(1);
  });
});
