import { open, readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readSavedToken } from '../config/identity.js';
import { configRows, type LoadedConfig, secretValues } from '../config/load.js';
import { AGENT_VERSION, PROTOCOL_VERSION } from '../version.js';
import { dockerFacts } from './docker-check.js';
import { runDoctor } from './doctor.js';

/**
 * `diagnostics`: one report an operator can paste into a ticket. Every secret is removed twice over: the config
 * is shown redacted (load.ts), and the finished text goes through `redactSecrets` with every secret value the
 * agent knows (the configured and the saved token, the panel API token, registry passwords), so a token that
 * reached a log line or a Docker label by any route is still not in the report.
 */

/** Lines of the log file's tail in the report, read from at most its last LOG_TAIL_BYTES. */
const LOG_TAIL_LINES = 200;
const LOG_TAIL_BYTES = 256 * 1024;

/** The fields of `docker info` worth a support engineer's time; the rest (plugins, registry config, proxies
 * that may carry credentials) is left out. */
const DOCKER_INFO_FIELDS = [
  'ServerVersion',
  'OperatingSystem',
  'OSType',
  'KernelVersion',
  'Architecture',
  'NCPU',
  'MemTotal',
  'Driver',
  'DockerRootDir',
  'CgroupVersion',
  'CgroupDriver',
  'LoggingDriver',
  'SecurityOptions',
  'Containers',
  'ContainersRunning',
  'Images',
  'MemoryLimit',
  'SwapLimit',
  'PidsLimit',
  'CpuCfsQuota',
  'Warnings',
];

export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[redacted]');
  }
  // Bearer credentials of any origin (a proxy's log line, a pasted curl).
  // Bearer credentials of any origin (a proxy's log line, a pasted curl); stops at a backslash so an escaped quote
  // of the JSON report survives.
  return out.replace(/(bearer\s+)[^\s"'\\]+/gi, '$1[redacted]');
}

async function tail(file: string): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').split('\n').filter(Boolean);
    // A read that starts mid-file starts mid-line: drop the partial first one.
    return (start > 0 ? lines.slice(1) : lines).slice(-LOG_TAIL_LINES);
  } finally {
    await handle.close();
  }
}

async function osRelease(): Promise<string | undefined> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1];
}

async function dataDirSummary(dir: string): Promise<Record<string, unknown>> {
  try {
    const names = await readdir(dir);
    const entries: Record<string, string> = {};
    for (const name of names.sort()) {
      const st = await stat(path.join(dir, name)).catch(() => undefined);
      if (!st) continue;
      entries[name] = st.isDirectory()
        ? `directory, ${(await readdir(path.join(dir, name)).catch(() => [])).length} entries`
        : `${st.size} bytes, mode ${(st.mode & 0o777).toString(8)}`;
    }
    return { path: dir, entries };
  } catch (err) {
    return { path: dir, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

export async function collectDiagnostics(loaded: LoadedConfig): Promise<Record<string, unknown>> {
  const { config } = loaded;
  const docker = await dockerFacts(config.docker.host).then(
    ({ version, info }) => ({
      version: { Version: version.Version, ApiVersion: version.ApiVersion },
      info: Object.fromEntries(DOCKER_INFO_FIELDS.filter((f) => f in info).map((f) => [f, info[f]])),
    }),
    (err: NodeJS.ErrnoException) => ({ error: err.code ?? err.message }),
  );
  const logs = config.log.file
    ? await tail(config.log.file).then(
        (lines) => ({ file: config.log.file, lines }),
        (err: NodeJS.ErrnoException) => ({ file: config.log.file, error: err.code ?? err.message }),
      )
    : { note: 'no log.file configured; the lines are in the journal: journalctl -u ctrl-alt-play-agent -n 200' };
  return {
    generatedAt: new Date().toISOString(),
    agent: { version: AGENT_VERSION, protocolVersion: PROTOCOL_VERSION, nodeId: config.nodeId },
    node: { version: process.version, execPath: process.execPath, execArgv: process.execArgv },
    host: {
      os: await osRelease(),
      kernel: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      cpus: os.cpus().length,
      memoryBytes: os.totalmem(),
      uptimeSeconds: Math.round(os.uptime()),
    },
    docker,
    config: {
      file: loaded.file ?? null,
      keys: Object.fromEntries(
        configRows(config, loaded.sources).map(({ key, value, source }) => [key, { value: value ?? null, source }]),
      ),
    },
    doctor: await runDoctor(config),
    dataDir: await dataDirSummary(config.dataDir),
    logs,
  };
}

/** The report as text, with every secret the agent knows removed. */
export async function diagnosticsReport(loaded: LoadedConfig, format: 'json' | 'text'): Promise<string> {
  const report = await collectDiagnostics(loaded);
  const saved = await readSavedToken(loaded.config.dataDir).catch(() => undefined);
  const filed = await Promise.all(
    Object.values(loaded.config.docker.registries).map((r) =>
      r.passwordFile
        ? readFile(r.passwordFile, 'utf8').then(
            (t) => t.trim(),
            () => '',
          )
        : '',
    ),
  );
  const secrets = [...secretValues(loaded.config), ...(saved ? [saved] : []), ...filed];
  const text =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : (await import('yaml')).stringify(report, { lineWidth: 0 });
  return redactSecrets(text, secrets);
}
