import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { dataDirLayout } from '../config/data-dir.js';
import { DATA_DIR_FORMAT, readDataDirFormat } from '../config/data-format.js';
import type { AgentConfig } from '../config/schema.js';
import { createDockerClient } from '../docker/runtime.js';
import { cgroupCheck } from './cgroup-check.js';

/**
 * `doctor`: checks the host and says what to fix, without changing anything (it used to create the data
 * directory, with the wrong mode). `warn` is worth knowing but does not fail the run; `fail` does (exit 3).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

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

async function checkDocker(config: AgentConfig): Promise<{ checks: Check[]; info?: Record<string, unknown> }> {
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

/** The nearest directory that exists at or above `dir`. */
async function existingAncestor(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      await stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

async function checkDataDir(dir: string): Promise<Check[]> {
  const checks: Check[] = [];
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return [{ name: 'data-dir', status: 'fail', detail: `${dir}: ${(err as Error).message}`, fix: `check ${dir}` }];
    }
    const parent = await existingAncestor(dir);
    const writable = await access(parent, constants.W_OK | constants.X_OK).then(
      () => true,
      () => false,
    );
    return [
      {
        name: 'data-dir',
        status: writable ? 'ok' : 'fail',
        detail: writable
          ? `${dir} does not exist yet; the agent creates it (mode 0711) at its first start`
          : `${dir} does not exist and ${parent} is not writable by this user`,
        fix: `create ${dir} writable by the agent's user, or set AGENT_DATA_DIR`,
      },
    ];
  }
  const usable = await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  const worldWritable = (st.mode & 0o002) !== 0;
  checks.push({
    name: 'data-dir',
    status: usable && !worldWritable && st.isDirectory() ? 'ok' : 'fail',
    detail: !st.isDirectory()
      ? `${dir} is not a directory`
      : !usable
        ? `${dir} is not readable and writable by this user`
        : `${dir} is writable${worldWritable ? ' and world-writable' : ''}`,
    fix: worldWritable ? `chmod o-w ${dir}` : `make ${dir} a directory the agent's user can write`,
  });
  try {
    const format = await readDataDirFormat(dir);
    checks.push({
      name: 'data-format',
      status: format !== undefined && format > DATA_DIR_FORMAT ? 'fail' : 'ok',
      detail:
        format === undefined
          ? `no format file yet (stamped with ${DATA_DIR_FORMAT} at the next start)`
          : `format ${format} (this agent reads up to ${DATA_DIR_FORMAT})`,
      fix: 'a newer agent wrote this directory: run that version, or restore the backup taken before the upgrade',
    });
  } catch (err) {
    checks.push({ name: 'data-format', status: 'fail', detail: (err as Error).message });
  }
  const token = dataDirLayout(dir).token;
  const tokenMode = await stat(token).then(
    (s) => s.mode & 0o777,
    () => undefined,
  );
  if (tokenMode !== undefined) {
    checks.push({
      name: 'token-file',
      status: (tokenMode & 0o077) === 0 ? 'ok' : 'fail',
      detail: `${token} has mode ${tokenMode.toString(8).padStart(4, '0')}`,
      fix: `chmod 600 ${token}`,
    });
  }
  return checks;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

/** GET /health on our own port: a running agent is who is expected to hold it. */
function probeHealth(config: AgentConfig): Promise<Record<string, unknown> | undefined> {
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  const tls = Boolean(config.tls.certFile);
  const request = tls ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      // Identification only: the certificate may name a public host and be signed by anything.
      { host, port: config.port, path: '/health', method: 'GET', timeout: 2_000, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64 * 1024) body += chunk;
        });
        res.on('end', () => {
          try {
            const parsed = JSON.parse(body) as unknown;
            resolve(parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined);
          } catch {
            resolve(undefined);
          }
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function checkPort(config: AgentConfig): Promise<Check> {
  const where = `${config.host}:${config.port}`;
  if (await portFree(config.host, config.port)) return { name: 'port', status: 'ok', detail: `${where} is free` };
  const health = await probeHealth(config);
  if (health && typeof health.nodeId === 'string' && typeof health.version === 'string') {
    const ours = health.nodeId === config.nodeId;
    return {
      name: 'port',
      status: ours ? 'ok' : 'fail',
      detail: ours
        ? `${where} is held by this node's running agent (version ${health.version}, status ${String(health.status)})`
        : `${where} is held by an agent of another node (${health.nodeId})`,
      fix: 'give each agent its own port (AGENT_PORT) or stop the other one',
    };
  }
  return {
    name: 'port',
    status: 'fail',
    detail: `${where} is in use by something that is not an agent`,
    fix: `find it (ss -ltnp 'sport = :${config.port}') and stop it, or set AGENT_PORT`,
  };
}

/** The engines field: Node 22.12 or newer. */
export function nodeVersionOk(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

export interface DoctorOptions {
  /** Where the cgroup filesystem and the mount table are read (tests point them at fixtures). */
  cgroupRoot?: string;
  mountsFile?: string;
}

export async function runDoctor(config: AgentConfig, options: DoctorOptions = {}): Promise<DoctorReport> {
  const docker = await checkDocker(config);
  const cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
  const mounts = await readFile(options.mountsFile ?? '/proc/self/mounts', 'utf8').catch(() => '');
  const controllers = await readFile(path.join(cgroupRoot, 'cgroup.controllers'), 'utf8').catch(() => undefined);
  const checks: Check[] = [
    {
      name: 'node',
      status: nodeVersionOk(process.versions.node) ? 'ok' : 'fail',
      detail: `Node.js ${process.versions.node}`,
      fix: 'install Node.js 22.12 or newer',
    },
    ...docker.checks,
    cgroupCheck(mounts, controllers, cgroupRoot),
    ...(await checkDataDir(config.dataDir)),
    await checkPort(config),
  ];
  // A fix is advice for a problem: an ok check carries none (in --json either).
  const shown = checks.map(({ fix, ...check }) => (check.status === 'ok' || !fix ? check : { ...check, fix }));
  return { ok: checks.every((c) => c.status !== 'fail'), checks: shown };
}

export function printDoctor(report: DoctorReport, print: (line: string) => void): void {
  const tag: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  for (const check of report.checks) {
    print(`${tag[check.status]}  ${check.name.padEnd(14)} ${check.detail}`);
    if (check.status !== 'ok' && check.fix) print(`      ${''.padEnd(14)} fix: ${check.fix}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  print(failed === 0 ? 'all checks passed' : `${failed} problem(s) found`);
}
