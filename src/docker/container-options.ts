import type { ContainerCreateOptions } from 'dockerode';

/** Pure mapping from a server's spec to Docker's create options (PROTOCOL.md §4.1). Unit-tested. */

const MIB = 1024 * 1024;

/**
 * What the Docker layer needs of a server's limits: memory and swap in MiB (swap -1 = unlimited), cpu in percent
 * of one core, io as a relative weight. Its own input type, so this layer does not import the domain's spec;
 * the spec's ContainerLimits satisfies it.
 */
export interface ContainerLimits {
  memory: number;
  swap: number;
  cpu: number;
  io: number;
}

/** A published port: `protocol: 'both'` publishes TCP and UDP. */
export interface PortMapping {
  ip: string | undefined;
  port: number;
  internal: number;
  protocol: 'both' | 'tcp' | 'udp';
}

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

export function mapLimits(limits: ContainerLimits, hostHasIoWeight: boolean): DockerLimits {
  const memory = limits.memory * MIB;
  let memorySwap: number;
  if (limits.memory === 0) memorySwap = limits.swap === -1 ? -1 : 0;
  else if (limits.swap === -1) memorySwap = -1;
  else memorySwap = memory + limits.swap * MIB;
  const out: DockerLimits = { Memory: memory, MemorySwap: memorySwap, NanoCpus: limits.cpu * 10_000_000 };
  if (hostHasIoWeight) out.BlkioWeight = Math.min(1000, Math.max(10, limits.io));
  return out;
}

export function mapPorts(ports: PortMapping[], defaultIp: string) {
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
  limits: ContainerLimits;
  ports: PortMapping[];
  dataDir: string;
  network: string;
  user: string | undefined;
  pidsLimit: number;
  tmpSizeMb: number;
  /**
   * Docker's init for images that run their own ENTRYPOINT or CMD. A shell-line startup always runs under it
   * (see `shellStartup`), so this only changes images that bring their own process tree.
   */
  init: boolean;
  hostHasIoWeight: boolean;
  defaultIp: string;
}

/**
 * Bump when the options built here change for an unchanged spec, so that containers created by an older agent
 * are re-created at their next start (it is part of the spec hash). 2: shell-line startups under the init.
 */
export const CONTAINER_OPTIONS_REVISION = 2;

/**
 * The stop signals of PROTOCOL.md §4.1 that a shell can trap (KILL cannot be). Kept here because this layer
 * may not import from servers/; the wrapper below must cover every signal a stop can send.
 */
const STOP_SIGNALS = ['TERM', 'INT', 'QUIT', 'HUP', 'USR1', 'USR2', 'ABRT'] as const;

/**
 * How an image without an ENTRYPOINT runs its startup line (PROTOCOL.md §4.1, issue 11).
 *
 * The line is a shell command line, as the yolks entrypoints `eval` it: `;`, `&&`, `if … fi`, `cd dir && …`,
 * `trap` must work, so nothing is prefixed to it (the old `exec ` prefix made 71 of 254 official eggs exit 127).
 *
 * Signals: Docker's init (tini) is PID 1 and, with TINI_KILL_PROCESS_GROUP, forwards the stop signal to the
 * whole process group: the shell and every command of the line, the game included. A shell as PID 1 would
 * ignore SIGTERM (the kernel drops default-action signals to PID 1) and every graceful stop would end in SIGKILL.
 * We do not detect "simple" lines to `exec` them: under group signalling the game gets the signal either way,
 * and a hand-written shell-syntax check (quoting, here-documents, reserved words) is easy to get wrong.
 *
 * The shell must outlive the game: tini exits as soon as its child (the shell) does, and the Engine then kills
 * everything left in the container. Untrapped, the shell dies of the signal at once while the game is still
 * saving (`./server; echo done` keeps the shell as a parent). A trap is deferred until the foreground command
 * finishes (POSIX), so `trap 'exit $?'` waits for the game and exits with its status (0 when it saved and quit;
 * 128+n when it died of the signal; an interrupted builtin such as `read` gives its own status). A line that
 * sets its own trap replaces ours, so its handler runs. Caught signals are reset to default across exec, so the
 * game sees the ordinary dispositions. The newline keeps the line parsed exactly as written.
 */
export function shellStartup(startup: string): string[] {
  return ['/bin/sh', '-c', `trap 'exit $?' ${STOP_SIGNALS.join(' ')}\n${startup}`];
}

export function buildContainerOptions(input: ContainerOptionsInput): ContainerCreateOptions {
  const { exposed, bindings } = mapPorts(input.ports, input.defaultIp);
  // An image with an ENTRYPOINT runs $STARTUP itself; an empty line keeps the image's own CMD.
  const runsLine = !input.imageHasEntrypoint && input.startup.trim() !== '';
  // tini reads this once at start-up; set after the user's values so that it cannot be dropped by them.
  const environment = runsLine ? { ...input.environment, TINI_KILL_PROCESS_GROUP: '1' } : input.environment;
  return {
    name: input.name,
    Image: input.image,
    Labels: input.labels,
    Env: Object.entries(environment).map(([k, v]) => `${k}=${v}`),
    ...(runsLine ? { Cmd: shellStartup(input.startup) } : {}),
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
      // A shell-line startup needs the init for its signals (shellStartup), whatever the config says.
      Init: runsLine || input.init,
      // Bounded logs: the agent reads the tail on reattach, Docker must not fill the disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}
