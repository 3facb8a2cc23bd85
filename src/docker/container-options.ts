import type { ContainerCreateOptions } from 'dockerode';
import type { Limits, PortBinding } from '../servers/spec.js';

/** Pure mapping from a server's spec to Docker's create options (PROTOCOL.md §4.1). Unit-tested. */

const MIB = 1024 * 1024;

/**
 * Capabilities a game server keeps: enough to run an entrypoint that fixes ownership and drops to a user
 * (yolks-style images), nothing that reaches the host (no NET_RAW, MKNOD, SYS_*, SETFCAP, AUDIT_WRITE).
 */
export const KEPT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'KILL', 'NET_BIND_SERVICE'];

export interface DockerLimits {
  Memory: number;
  MemorySwap: number;
  MemoryReservation?: number;
  NanoCpus: number;
  BlkioWeight?: number;
}

export function mapLimits(limits: Limits, hostHasIoWeight: boolean): DockerLimits {
  const memory = limits.memory * MIB;
  let memorySwap: number;
  if (limits.memory === 0) memorySwap = limits.swap === -1 ? -1 : 0;
  else if (limits.swap === -1) memorySwap = -1;
  else memorySwap = memory + limits.swap * MIB;
  const out: DockerLimits = { Memory: memory, MemorySwap: memorySwap, NanoCpus: limits.cpu * 10_000_000 };
  if (hostHasIoWeight) out.BlkioWeight = Math.min(1000, Math.max(10, limits.io));
  return out;
}

export function mapPorts(ports: PortBinding[], defaultIp: string) {
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const protocols = p.protocol === 'both' ? ['tcp', 'udp'] : [p.protocol];
    for (const proto of protocols) {
      const key = `${p.internal}/${proto}`;
      exposed[key] = {};
      const list = bindings[key] ?? [];
      list.push({ HostIp: p.ip ?? defaultIp, HostPort: String(p.port) });
      bindings[key] = list;
    }
  }
  return { exposed, bindings };
}

export interface ContainerOptionsInput {
  name: string;
  image: string;
  labels: Record<string, string>;
  environment: Record<string, string>;
  startup: string;
  /** True when the image declares an ENTRYPOINT: it runs $STARTUP itself (yolks convention). */
  imageHasEntrypoint: boolean;
  limits: Limits;
  ports: PortBinding[];
  dataDir: string;
  network: string;
  user: string | undefined;
  pidsLimit: number;
  tmpSizeMb: number;
  init: boolean;
  hostHasIoWeight: boolean;
  defaultIp: string;
}

export function buildContainerOptions(input: ContainerOptionsInput): ContainerCreateOptions {
  const { exposed, bindings } = mapPorts(input.ports, input.defaultIp);
  // Without an entrypoint the startup runs through sh; `exec` makes the game PID 1 so it receives SIGTERM
  // directly: a shell left as PID 1 ignores it and every graceful stop would end in SIGKILL.
  const cmd =
    !input.imageHasEntrypoint && input.startup.trim() !== '' ? ['/bin/sh', '-c', `exec ${input.startup}`] : undefined;
  return {
    name: input.name,
    Image: input.image,
    Labels: input.labels,
    Env: Object.entries(input.environment).map(([k, v]) => `${k}=${v}`),
    ...(cmd ? { Cmd: cmd } : {}),
    WorkingDir: '/home/container',
    ...(input.user ? { User: input.user } : {}),
    Tty: true,
    OpenStdin: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    StdinOnce: false,
    ExposedPorts: exposed,
    HostConfig: {
      Binds: [`${input.dataDir}:/home/container`],
      PortBindings: bindings,
      NetworkMode: input.network,
      RestartPolicy: { Name: 'no' },
      ...mapLimits(input.limits, input.hostHasIoWeight),
      PidsLimit: input.pidsLimit,
      Privileged: false,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      CapAdd: KEPT_CAPABILITIES,
      ReadonlyRootfs: false,
      Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${input.tmpSizeMb}m` },
      Init: input.init,
      // Bounded logs: the agent reads the tail on reattach, Docker must not fill the disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}
