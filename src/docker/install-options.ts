import type { ContainerCreateOptions } from 'dockerode';
import { type ContainerLimits, KEPT_CAPABILITIES, mapLimits } from './container-options.js';

/**
 * Pure mapping from a server's install script (or the SteamCMD helper, which runs under the same rules) to the
 * install container's create options. Unit-tested.
 *
 * An install script is code from the panel's egg, run before any tenant code, but egg authors and whatever the
 * script downloads are not trusted with the host: the container gets the game container's restrictions, minus
 * what an installer cannot work without.
 */

/**
 * The game's kept capabilities without NET_BIND_SERVICE: an installer listens on nothing. The rest stay because
 * installers run as root by Pterodactyl convention and do root things inside their own rootfs: apt-get and dpkg
 * chown unpacked files (CHOWN, FOWNER), drop to the `_apt` user to download (SETUID, SETGID), write as root into
 * directories they do not own (DAC_OVERRIDE) and stop their helpers (KILL). Gone with CapDrop ALL, among others:
 * MKNOD (no device nodes in a directory the host serves) and NET_RAW (no raw packets on a shared bridge).
 */
export const INSTALL_CAPABILITIES = KEPT_CAPABILITIES.filter((c) => c !== 'NET_BIND_SERVICE');

/** Mount point of the server directory inside the install container (Pterodactyl's convention). */
export const INSTALL_MOUNT = '/mnt/server';

export interface InstallOptionsInput {
  name: string;
  /** The install image, already stripped of a local-only "~". */
  image: string;
  labels: Record<string, string>;
  entrypoint: string;
  /**
   * Arguments of the entrypoint: `['-c', script]` for an install script run by its shell, SteamCMD's `+command`
   * line for the SteamCMD helper (servers/steamcmd.ts). A list, never a string through a shell: nothing in it is
   * re-parsed.
   */
  cmd: string[];
  environment: Record<string, string>;
  /** The server's own limits; the install gets at least the floors below. */
  limits: ContainerLimits;
  /** Floors: an install gets max(server limit, floor); a server limit of 0 (unlimited) gets the floor. */
  minMemoryMb: number;
  minCpuPercent: number;
  dataDir: string;
  /** The install network (never the game network, see config `docker.installNetwork`). */
  network: string;
  pidsLimit: number;
  tmpSizeMb: number;
  hostHasIoWeight: boolean;
}

/**
 * The install's limits. 0 means unlimited for a game server, but an install is batch work on a shared host:
 * it is bounded by the floor instead. No swap: an installer that outgrows its memory should fail loudly, not
 * page the host for half an hour.
 */
export function installLimits(
  input: Pick<InstallOptionsInput, 'limits' | 'minMemoryMb' | 'minCpuPercent'>,
): ContainerLimits {
  return {
    ...input.limits,
    memory: Math.max(input.limits.memory, input.minMemoryMb),
    cpu: Math.max(input.limits.cpu, input.minCpuPercent),
    swap: 0,
  };
}

export function buildInstallContainerOptions(input: InstallOptionsInput): ContainerCreateOptions {
  const limits = installLimits(input);
  return {
    name: input.name,
    Image: input.image,
    Labels: input.labels,
    Entrypoint: [input.entrypoint],
    Cmd: input.cmd,
    Env: [...Object.entries(input.environment).map(([k, v]) => `${k}=${v}`), `SERVER_MEMORY=${input.limits.memory}`],
    WorkingDir: INSTALL_MOUNT,
    // No User: the image's own (root for Pterodactyl installers). Installers apt-get, which needs root in the
    // container; what that root can do is bounded by the capability set and no-new-privileges, and everything
    // it leaves in the server directory is re-owned and cleaned by tree-sanitize.ts afterwards.
    Tty: true,
    OpenStdin: false,
    HostConfig: {
      Binds: [`${input.dataDir}:${INSTALL_MOUNT}`],
      NetworkMode: input.network,
      RestartPolicy: { Name: 'no' },
      ...mapLimits(limits, input.hostHasIoWeight),
      PidsLimit: input.pidsLimit,
      Privileged: false,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      CapAdd: INSTALL_CAPABILITIES,
      // Not read-only, unlike what a hardened batch job would get: installers apt-get packages into /usr and
      // /var of their own (throw-away) rootfs, and a read-only root makes every such egg fail.
      ReadonlyRootfs: false,
      // exec stays: installers download and run helpers (steamcmd) from /tmp.
      Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${input.tmpSizeMb}m` },
      // The agent streams the output itself; Docker's copy only has to survive until the container is removed.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '1' } },
    },
  };
}
