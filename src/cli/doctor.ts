import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AgentConfig } from '../config/schema.js';
import { createDockerClient } from '../docker/runtime.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const MIN_DOCKER_API = [1, 41];

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

async function checkDocker(config: AgentConfig): Promise<Check[]> {
  const docker = createDockerClient(config.docker.host);
  try {
    const version = await docker.version();
    const info = await docker.info();
    const [major = 0, minor = 0] = version.ApiVersion.split('.').map(Number);
    const apiOk =
      major > (MIN_DOCKER_API[0] ?? 1) || (major === MIN_DOCKER_API[0] && minor >= (MIN_DOCKER_API[1] ?? 0));
    return [
      { name: 'docker', ok: true, detail: `Docker Engine ${version.Version} reachable (API ${version.ApiVersion})` },
      {
        name: 'docker-api',
        ok: apiOk,
        detail: `API ${version.ApiVersion}`,
        fix: 'upgrade Docker Engine to 20.10 or newer',
      },
      {
        name: 'cgroup',
        ok: true,
        detail: `cgroup v${info.CgroupVersion ?? '1'} (${info.CgroupDriver ?? 'unknown driver'})${info.MemoryLimit === false ? ', memory limits unsupported' : ''}`,
      },
      {
        name: 'memory-limits',
        ok: info.MemoryLimit !== false,
        detail: info.MemoryLimit === false ? 'the kernel does not support memory limits' : 'memory limits supported',
        fix: 'enable the memory cgroup (cgroup_enable=memory on the kernel command line)',
      },
    ];
  } catch (err) {
    return [
      {
        name: 'docker',
        ok: false,
        detail: `cannot reach Docker at ${config.docker.host ?? '/var/run/docker.sock'}: ${(err as Error).message}`,
        fix: 'install Docker Engine (apt-get install docker.io), start it (systemctl start docker), and run the agent as root or a member of the docker group',
      },
    ];
  }
}

async function checkDataDir(dir: string): Promise<Check> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    const st = await stat(dir);
    const worldWritable = (st.mode & 0o002) !== 0;
    return {
      name: 'data-dir',
      ok: !worldWritable,
      detail: `${dir} is writable${worldWritable ? ' and world-writable' : ''}`,
      fix: `chmod o-w ${dir}`,
    };
  } catch (err) {
    return {
      name: 'data-dir',
      ok: false,
      detail: `${dir}: ${(err as Error).message}`,
      fix: `create ${dir} and make it writable by the agent's user, or set AGENT_DATA_DIR`,
    };
  }
}

/** The engines field: Node 22.12 or newer. */
export function nodeVersionOk(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** Checks the host and prints one line per check with what to fix; true when everything passed. */
export async function runDoctor(config: AgentConfig, print: (line: string) => void): Promise<boolean> {
  const checks: Check[] = [
    {
      name: 'node',
      ok: nodeVersionOk(process.versions.node),
      detail: `Node.js ${process.versions.node}`,
      fix: 'install Node.js 22.12 or newer',
    },
    ...(await checkDocker(config)),
    await checkDataDir(config.dataDir),
  ];
  const free = await portFree(config.host, config.port);
  checks.push({
    name: 'port',
    ok: free,
    detail: free ? `${config.host}:${config.port} is free` : `${config.host}:${config.port} is in use`,
    fix: 'stop whatever listens there (perhaps a running agent) or set AGENT_PORT',
  });
  for (const check of checks) {
    print(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(14)} ${check.detail}`);
    if (!check.ok && check.fix) print(`      ${''.padEnd(14)} fix: ${check.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  print(failed === 0 ? 'all checks passed' : `${failed} problem(s) found`);
  return failed === 0;
}
