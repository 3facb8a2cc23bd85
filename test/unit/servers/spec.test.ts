import { describe, expect, it } from 'vitest';
import { mapLimits, mapPorts } from '../../../src/docker/container-options.js';
import { createServerPayload, resolveStartup, specFromPayload, substitute } from '../../../src/servers/spec.js';

const MIB = 1024 * 1024;

function parse(payload: Record<string, unknown>) {
  return createServerPayload.safeParse(payload);
}

describe('create_server payload', () => {
  it('parses the PROTOCOL.md example, environment as a JSON string', () => {
    const r = parse({
      name: 'My MC',
      image: 'itzg/minecraft-server:latest',
      startup: 'java -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}}',
      environment: '{"SERVER_JARFILE":"server.jar","EULA":true}',
      limits: { memory: 1024, disk: 5120, cpu: 100, swap: 0, io: 500 },
      skipScripts: false,
    });
    expect(r.success).toBe(true);
    expect(r.data?.environment).toEqual({ SERVER_JARFILE: 'server.jar', EULA: 'true' });
    expect(r.data?.limits).toEqual({ memory: 1024, disk: 5120, cpu: 100, swap: 0, io: 500 });
  });

  it('accepts numeric strings for limits and drops null environment values', () => {
    const r = parse({ image: 'ubuntu:20.04', limits: { memory: '512', cpu: '50' }, environment: { A: null, B: 2 } });
    expect(r.data?.limits.memory).toBe(512);
    expect(r.data?.limits.cpu).toBe(50);
    expect(r.data?.environment).toEqual({ B: '2' });
  });

  it.each([
    [{ image: 'ubuntu', limits: { memory: -1 } }, 'limits.memory'],
    [{ image: 'ubuntu', limits: { swap: -2 } }, 'limits.swap'],
    [{ image: 'ubuntu', limits: { cpu: 'lots' } }, 'limits.cpu'],
    [{ image: 'ubuntu', environment: { 'BAD-KEY': 'x' } }, 'environment'],
    [{ image: 'ubuntu', environment: { NESTED: { a: 1 } } }, 'environment'],
    [{ image: 'ubuntu', environment: '{not json' }, 'environment'],
    [{ image: 'Not A Valid Image!' }, 'image'],
    [{}, 'image'],
    [{ image: 'ubuntu', startupDone: '([' }, 'startupDone'],
  ])('refuses %j naming %s', (payload, field) => {
    const r = parse(payload);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).join(' ')).toContain(field.split('.')[0]);
  });

  it('accepts swap -1, registry hosts with ports, digests and the ~ local prefix', () => {
    expect(parse({ image: 'ubuntu', limits: { swap: -1 } }).success).toBe(true);
    expect(parse({ image: 'registry.local:5000/games/mc:1.21' }).success).toBe(true);
    expect(parse({ image: `ghcr.io/pterodactyl/yolks@sha256:${'a'.repeat(64)}` }).success).toBe(true);
    expect(parse({ image: '~ctrl-alt-play-test/busybox:latest' }).success).toBe(true);
  });
});

describe('limits → Docker (PROTOCOL.md §4.1 table)', () => {
  it('maps memory, swap, cpu and io', () => {
    expect(mapLimits({ memory: 1024, cpu: 100, swap: 0, io: 500 }, true)).toEqual({
      Memory: 1024 * MIB,
      MemorySwap: 1024 * MIB,
      NanoCpus: 1_000_000_000,
      BlkioWeight: 500,
    });
    expect(mapLimits({ memory: 512, cpu: 250, swap: 256, io: 5 }, true)).toMatchObject({
      MemorySwap: 768 * MIB,
      NanoCpus: 2_500_000_000,
      BlkioWeight: 10,
    });
    expect(mapLimits({ memory: 512, cpu: 0, swap: -1, io: 5000 }, true)).toMatchObject({
      MemorySwap: -1,
      NanoCpus: 0,
      BlkioWeight: 1000,
    });
  });

  it('leaves memory unlimited at 0 and omits io weight when the host lacks it', () => {
    const l = mapLimits({ memory: 0, cpu: 0, swap: 0, io: 500 }, false);
    expect(l).toEqual({ Memory: 0, MemorySwap: 0, NanoCpus: 0 });
  });

  it('publishes both protocols by default', () => {
    const { exposed, bindings } = mapPorts(
      [{ ip: undefined, port: 25565, internal: 25565, protocol: 'both' }],
      '0.0.0.0',
    );
    expect(Object.keys(exposed).sort()).toEqual(['25565/tcp', '25565/udp']);
    expect(bindings['25565/udp']).toEqual([{ HostIp: '0.0.0.0', HostPort: '25565' }]);
  });
});

describe('startup substitution', () => {
  it('replaces known names and reports unknown ones, leaving them in place', () => {
    expect(substitute('java -Xmx{{SERVER_MEMORY}}M {{ MISSING }}', { SERVER_MEMORY: '1024' })).toEqual({
      result: 'java -Xmx1024M {{ MISSING }}',
      unresolved: ['MISSING'],
    });
  });

  it('adds SERVER_MEMORY, SERVER_IP, SERVER_PORT, TZ and STARTUP; user values win except STARTUP', () => {
    const payload = createServerPayload.parse({
      image: 'ubuntu',
      startup: './run --port {{SERVER_PORT}} --mem {{SERVER_MEMORY}}',
      environment: { SERVER_PORT: '27015', TZ: 'Europe/Berlin', STARTUP: 'evil' },
      limits: { memory: 2048 },
    });
    const spec = specFromPayload('abc', payload, new Date(0));
    const r = resolveStartup(spec, { ip: '0.0.0.0', timezone: 'UTC' });
    expect(r.startup).toBe('./run --port 27015 --mem 2048');
    expect(r.environment).toMatchObject({
      SERVER_MEMORY: '2048',
      SERVER_PORT: '27015',
      SERVER_IP: '0.0.0.0',
      TZ: 'Europe/Berlin',
      STARTUP: './run --port 27015 --mem 2048',
    });
    expect(r.ports).toEqual([{ ip: undefined, port: 27015, internal: 27015, protocol: 'both' }]);
    expect(r.warnings).toEqual([]);
  });

  it('warns when no port is published', () => {
    const spec = specFromPayload('abc', createServerPayload.parse({ image: 'ubuntu' }), new Date(0));
    expect(resolveStartup(spec, { ip: '0.0.0.0', timezone: 'UTC' }).warnings).toContain('no ports published');
  });
});
