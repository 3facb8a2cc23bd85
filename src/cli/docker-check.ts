import type { AgentConfig } from '../config/schema.js';
import { createDockerClient } from '../docker/runtime.js';
import type { Check } from './doctor-report.js';

/** doctor's checks of the Docker Engine: reachable (and if not, why and what to do), API version, cgroup limits. */

const MIN_DOCKER_API = [1, 41] as const;
const DOCKER_TIMEOUT_MS = 5_000;

/** What to do about a failed connection to the Engine, by the error the socket gave. */
export function dockerFix(code: string | undefined, host: string): string {
  const where = host.startsWith('tcp://') || host.startsWith('http') ? host : `the socket ${host}`;
  switch (code) {
    case 'ENOENT':
      return `${where} does not exist: Docker is not installed or not running. Install it (apt-get install docker.io), start it (systemctl enable --now docker), or point docker.host / DOCKER_HOST at the right socket`;
    case 'EACCES':
    case 'EPERM':
      return `this user may not open ${where}: run the agent as root (the systemd unit does) or add the user to the docker group (usermod -aG docker $USER, then log in again)`;
    case 'ECONNREFUSED':
      return `nothing accepts connections on ${where}: dockerd is not running or not listening there (systemctl start docker; journalctl -u docker for why it stopped)`;
    case 'TIMEOUT':
      return `dockerd accepted the connection but did not answer within ${DOCKER_TIMEOUT_MS / 1000} s: it is hung or overloaded (systemctl restart docker; journalctl -u docker)`;
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return `${where} cannot be reached over the network: check the host name, the port and the firewall`;
    default:
      return `check that dockerd runs (systemctl status docker) and that ${where} is the Engine's address`;
  }
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return undefined;
}

interface DockerFacts {
  version: { Version: string; ApiVersion: string };
  info: Record<string, unknown>;
}

/** version + info with a deadline that aborts the requests (a hung dockerd must not hang doctor). */
export async function dockerFacts(host: string | undefined): Promise<DockerFacts> {
  const docker = createDockerClient(host) as unknown as {
    version(o: { abortSignal: AbortSignal }): Promise<DockerFacts['version']>;
    info(o: { abortSignal: AbortSignal }): Promise<Record<string, unknown>>;
  };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), DOCKER_TIMEOUT_MS);
  try {
    const version = await docker.version({ abortSignal: controller.signal });
    const info = await docker.info({ abortSignal: controller.signal });
    return { version, info };
  } catch (err) {
    if (controller.signal.aborted) throw Object.assign(new Error('no answer from the Engine'), { code: 'TIMEOUT' });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export async function checkDocker(config: AgentConfig): Promise<{ checks: Check[]; info?: Record<string, unknown> }> {
  const host = config.docker.host ?? '/var/run/docker.sock';
  let facts: DockerFacts;
  try {
    facts = await dockerFacts(config.docker.host);
  } catch (err) {
    const code = errorCode(err);
    return {
      checks: [
        {
          name: 'docker',
          status: 'fail',
          detail: `cannot reach Docker at ${host}: ${code ?? (err as Error).message}`,
          fix: dockerFix(code, host),
        },
      ],
    };
  }
  const { version, info } = facts;
  const [major = 0, minor = 0] = version.ApiVersion.split('.').map(Number);
  const apiOk = major > MIN_DOCKER_API[0] || (major === MIN_DOCKER_API[0] && minor >= MIN_DOCKER_API[1]);
  const limits: Check[] = [
    ['docker-memory', 'MemoryLimit', 'memory limits', 'enable the memory cgroup (cgroup_enable=memory at boot)'],
    ['docker-pids', 'PidsLimit', 'PID limits', 'enable the pids cgroup controller'],
    ['docker-cpu', 'CpuCfsQuota', 'CPU quotas', 'enable CONFIG_CFS_BANDWIDTH / the cpu cgroup controller'],
  ].map(([name, field, what, fix]) => ({
    name: name as string,
    status: info[field as string] === false ? 'fail' : 'ok',
    detail: info[field as string] === false ? `the Engine reports no ${what}` : `${what} supported`,
    fix: fix as string,
  }));
  if (info.SwapLimit === false) {
    limits.push({
      name: 'docker-swap',
      status: 'warn',
      detail: 'the Engine reports no swap limits: a server may swap beyond its limit',
      fix: 'boot with swapaccount=1 (cgroup v1) or use cgroup v2',
    });
  }
  return {
    info,
    checks: [
      { name: 'docker', status: 'ok', detail: `Docker Engine ${version.Version} reachable at ${host}` },
      {
        name: 'docker-api',
        status: apiOk ? 'ok' : 'fail',
        detail: `API ${version.ApiVersion}`,
        fix: 'upgrade Docker Engine to 20.10 or newer',
      },
      ...limits,
    ],
  };
}
