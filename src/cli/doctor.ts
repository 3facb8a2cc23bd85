import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentConfig } from '../config/schema.js';
import { cgroupCheck } from './cgroup-check.js';
import { checkDataDir } from './data-dir-check.js';
import { checkDocker } from './docker-check.js';
import { type DoctorReport, doctorReport } from './doctor-report.js';
import { checkPort } from './port-check.js';

/**
 * `doctor`: checks the host and says what to fix, without changing anything (it used to create the data
 * directory, with the wrong mode). One module per thing checked (docker-check, cgroup-check, data-dir-check,
 * port-check); the report and its rendering in doctor-report.ts. program.ts imports this module only inside the
 * doctor and diagnostics commands: port-check's node:http would load Node's bundled undici into every agent.
 */

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
  return doctorReport([
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
  ]);
}
