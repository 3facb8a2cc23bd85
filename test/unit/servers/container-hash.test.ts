import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { LABEL_SPEC_HASH } from '../../../src/docker/labels.js';
import { serverContainerOptions } from '../../../src/servers/container.js';
import { createServerPayload, specFromPayload } from '../../../src/servers/spec.js';

/** The container is re-created exactly when its built options change (issue 14), not when agent-side settings do. */
const config = configSchema.parse({ nodeId: 'node-1', dataDir: '/tmp/cap-hash' });
const ctx = { config, agentId: 'agt_hash', runAs: undefined };
const facts = { image: { hasEntrypoint: false }, host: { ioWeight: true } } as never;

function hashOf(payload: Record<string, unknown>): string {
  const spec = specFromPayload(
    'srv-1',
    createServerPayload.parse({ image: 'busybox', startup: 'sleep 1', ...payload }),
    new Date(0),
  );
  const server = { id: 'srv-1', spec, dataDir: '/data/srv-1' } as never;
  return serverContainerOptions(ctx, server, facts).Labels?.[LABEL_SPEC_HASH] as string;
}

describe('container options hash', () => {
  it('does not change for settings the agent reads itself', () => {
    const base = hashOf({});
    expect(hashOf({ denylist: ['*.key'] })).toBe(base);
    expect(hashOf({ restartPolicy: 'off' })).toBe(base);
    expect(hashOf({ stopCommand: 'stop' })).toBe(base);
    expect(hashOf({ name: 'renamed' })).toBe(base);
    expect(hashOf({ query: { type: 'minecraft' } })).toBe(base);
  });

  it('changes for everything that shapes the container', () => {
    const base = hashOf({});
    expect(hashOf({ limits: { memory: 512 } })).not.toBe(base);
    expect(hashOf({ startup: 'sleep 2' })).not.toBe(base);
    expect(hashOf({ environment: { A: '1' } })).not.toBe(base);
    expect(hashOf({ ports: [{ port: 25565 }] })).not.toBe(base);
    expect(hashOf({ image: 'busybox:1.36' })).not.toBe(base);
  });
});
