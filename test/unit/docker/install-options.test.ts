import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KEPT_CAPABILITIES } from '../../../src/docker/container-options.js';
import {
  buildInstallContainerOptions,
  INSTALL_CAPABILITIES,
  type InstallOptionsInput,
  installLimits,
} from '../../../src/docker/install-options.js';

const MIB = 1024 * 1024;

const input: InstallOptionsInput = {
  name: 'ctrl-alt-play-install-abc',
  image: 'ghcr.io/pterodactyl/installers:debian',
  labels: { 'ctrl-alt-play.managed': 'true', 'ctrl-alt-play.role': 'install' },
  entrypoint: 'bash',
  cmd: ['-c', 'apt-get update && curl -o server.jar https://example.invalid/s.jar'],
  environment: { SERVER_JARFILE: 'server.jar', A: '1' },
  limits: { memory: 2048, cpu: 200, swap: 512, io: 500 },
  minMemoryMb: 1024,
  minCpuPercent: 100,
  dataDir: '/data/volumes/abc',
  network: 'ctrl-alt-play-install',
  pidsLimit: 512,
  tmpSizeMb: 64,
  hostHasIoWeight: true,
};

describe('install container options', () => {
  it('runs the script with the entrypoint in the server directory, with the server environment', () => {
    const o = buildInstallContainerOptions(input);
    expect(o.name).toBe('ctrl-alt-play-install-abc');
    expect(o.Image).toBe('ghcr.io/pterodactyl/installers:debian');
    expect(o.Labels).toEqual(input.labels);
    expect(o.Entrypoint).toEqual(['bash']);
    expect(o.Cmd).toEqual(input.cmd);
    expect(o.WorkingDir).toBe('/mnt/server');
    expect(o.Env).toEqual(['SERVER_JARFILE=server.jar', 'A=1', 'SERVER_MEMORY=2048']);
    expect(o.HostConfig?.Binds).toEqual(['/data/volumes/abc:/mnt/server']);
    expect(o.Tty).toBe(true);
    expect(o.OpenStdin).toBe(false);
    // Root inside by Pterodactyl convention (the image's own user): installers apt-get.
    expect(o.User).toBeUndefined();
  });

  it('drops every capability but what an installer needs: no MKNOD, NET_RAW or NET_BIND_SERVICE', () => {
    const h = buildInstallContainerOptions(input).HostConfig ?? {};
    expect(h.CapDrop).toEqual(['ALL']);
    expect(h.CapAdd).toEqual(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'KILL']);
    expect(h.CapAdd).toEqual(INSTALL_CAPABILITIES);
    for (const cap of h.CapAdd ?? []) expect(KEPT_CAPABILITIES).toContain(cap);
    for (const cap of ['MKNOD', 'NET_RAW', 'NET_BIND_SERVICE', 'SYS_ADMIN', 'SETFCAP', 'AUDIT_WRITE', 'SYS_CHROOT']) {
      expect(h.CapAdd).not.toContain(cap);
    }
    expect(h.Privileged).toBe(false);
    expect(h.SecurityOpt).toEqual(['no-new-privileges']);
    expect(h.ReadonlyRootfs).toBe(false);
    expect(h.RestartPolicy).toEqual({ Name: 'no' });
  });

  it('joins the install network, never anything else', () => {
    expect(buildInstallContainerOptions(input).HostConfig?.NetworkMode).toBe('ctrl-alt-play-install');
    expect(buildInstallContainerOptions({ ...input, network: 'other' }).HostConfig?.NetworkMode).toBe('other');
  });

  it('bounds PIDs, memory (no swap), CPU, /tmp and logs', () => {
    const h = buildInstallContainerOptions(input).HostConfig ?? {};
    expect(h.PidsLimit).toBe(512);
    expect(h.Memory).toBe(2048 * MIB);
    expect(h.MemorySwap).toBe(2048 * MIB);
    expect(h.NanoCpus).toBe(2_000_000_000);
    expect(h.BlkioWeight).toBe(500);
    expect(h.Tmpfs).toEqual({ '/tmp': 'rw,exec,nosuid,nodev,size=64m' });
    expect(h.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '1' } });
    expect(buildInstallContainerOptions({ ...input, hostHasIoWeight: false }).HostConfig?.BlkioWeight).toBeUndefined();
  });

  it('raises small limits to the floors, and bounds "unlimited" (0) by them', () => {
    const small = buildInstallContainerOptions({ ...input, limits: { ...input.limits, memory: 128, cpu: 25 } });
    expect(small.HostConfig?.Memory).toBe(1024 * MIB);
    expect(small.HostConfig?.NanoCpus).toBe(1_000_000_000);
    // SERVER_MEMORY is the game's own limit, which scripts write into configs; the floor is the installer's.
    expect(small.Env).toContain('SERVER_MEMORY=128');
    const unlimited = buildInstallContainerOptions({ ...input, limits: { ...input.limits, memory: 0, cpu: 0 } });
    expect(unlimited.HostConfig?.Memory).toBe(1024 * MIB);
    expect(unlimited.HostConfig?.MemorySwap).toBe(1024 * MIB);
    expect(unlimited.HostConfig?.NanoCpus).toBe(1_000_000_000);
  });

  it('never gives an install less than the floor or less than the server, and never swap', () => {
    const n = fc.integer({ min: 0, max: 1_000_000 });
    fc.assert(
      fc.property(
        n,
        n,
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        (memory, cpu, mm, mc) => {
          const limits = installLimits({
            limits: { memory, cpu, swap: -1, io: 500 },
            minMemoryMb: mm,
            minCpuPercent: mc,
          });
          expect(limits.memory).toBe(Math.max(memory, mm));
          expect(limits.cpu).toBe(Math.max(cpu, mc));
          const h =
            buildInstallContainerOptions({
              ...input,
              limits: { memory, cpu, swap: -1, io: 500 },
              minMemoryMb: mm,
              minCpuPercent: mc,
            }).HostConfig ?? {};
          expect(h.Memory).toBeGreaterThan(0);
          expect(h.MemorySwap).toBe(h.Memory);
          expect(h.NanoCpus).toBeGreaterThan(0);
        },
      ),
    );
  });
});
