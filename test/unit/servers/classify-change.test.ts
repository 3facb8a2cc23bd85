import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { createServerPayload, specFromPayload } from '../../../src/servers/spec.js';
import { classifyChange, updatedSpec } from '../../../src/servers/update.js';

/** update_server's live / next_start decision, taken from the options the container is built from (issue 14). */
const config = configSchema.parse({ nodeId: 'node-1', dataDir: '/tmp/cap-classify' });
const ctx = { config, agentId: 'agt_classify', runAs: undefined };
const server = { id: 'srv-1', dataDir: '/data/srv-1' };
const base = specFromPayload(
  'srv-1',
  createServerPayload.parse({
    image: 'busybox',
    startup: 'sleep {{SECONDS}}',
    environment: { SECONDS: '5', A: '1', B: '2' },
    limits: { memory: 512, cpu: 100, disk: 1024 },
  }),
  new Date(0),
);

function change(update: Record<string, unknown>) {
  return classifyChange(ctx, server, base, updatedSpec(base, update, new Date(1)));
}

describe('classifyChange', () => {
  it('is in force at once for what the agent reads itself', () => {
    for (const update of [
      { name: 'renamed' },
      { stopCommand: 'stop' },
      { denylist: ['*.key'] },
      { restartPolicy: 'off' },
      { query: { type: 'minecraft' } },
    ]) {
      expect(change(update), JSON.stringify(update)).toEqual({ limits: false, container: false });
    }
  });

  it('takes a Docker limit live, not as a new container; the disk limit is the agent’s own', () => {
    expect(change({ limits: { memory: 1024 } })).toEqual({ limits: true, container: false });
    expect(change({ limits: { cpu: 200 } })).toEqual({ limits: true, container: false });
    expect(change({ limits: { disk: 2048 } })).toEqual({ limits: false, container: false });
  });

  it('needs a new container for what shapes it', () => {
    expect(change({ startup: 'sleep 9' }).container).toBe(true);
    expect(change({ environment: { SECONDS: '6', A: '1', B: '2' } }).container).toBe(true);
    expect(change({ image: 'busybox:1.36' }).container).toBe(true);
    expect(change({ ports: [{ port: 25565 }] }).container).toBe(true);
  });

  it('reads the same variables in another order as no change', () => {
    expect(change({ environment: { B: '2', SECONDS: '5', A: '1' } })).toEqual({ limits: false, container: false });
  });
});
