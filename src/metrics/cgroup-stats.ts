import { readFileSync } from 'node:fs';

/**
 * Reads a container's CPU, memory and network counters straight from the kernel: the cgroup files named by
 * /proc/<pid>/cgroup (so any cgroup version and driver works) and /proc/<pid>/net/dev of its network
 * namespace. That is a few small file reads per sample instead of a Docker stats request, which matters when
 * 50 servers are sampled every second. Returns undefined when the files are not visible (agent in a container
 * without the host's /proc and /sys); the caller then asks Docker.
 */
export interface RawSample {
  /** Cumulative CPU time used, nanoseconds. */
  cpuNs: number;
  /** Memory in use without the page cache (usage − inactive_file), bytes. */
  memoryBytes: number;
  rxBytes: number;
  txBytes: number;
  /** When the sample was taken, ms (monotonic). */
  at: number;
}

export interface CgroupPaths {
  version: 1 | 2;
  cpu: string;
  memory: string;
}

const SYS_CGROUP = '/sys/fs/cgroup';

/** Parses /proc/<pid>/cgroup into the directories holding the CPU and memory counters. */
export function parseProcCgroup(text: string, root = SYS_CGROUP): CgroupPaths | undefined {
  let cpu: string | undefined;
  let memory: string | undefined;
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = '', path = ''] = match;
    if (id === '0' && controllers === '') unified = path;
    const list = controllers.split(',');
    if (list.includes('cpuacct')) cpu = `${root}/${controllers}${path}`;
    if (list.includes('memory')) memory = `${root}/memory${path}`;
  }
  if (cpu && memory) return { version: 1, cpu, memory };
  if (unified !== undefined) return { version: 2, cpu: `${root}${unified}`, memory: `${root}${unified}` };
  return undefined;
}

/** The keys read out of cpu.stat and memory.stat, compiled once: a sample reads two of them. */
const STAT_KEYS = {
  usage_usec: /^usage_usec (\d+)$/m,
  inactive_file: /^inactive_file (\d+)$/m,
  total_inactive_file: /^total_inactive_file (\d+)$/m,
} as const;

function statValue(text: string, key: keyof typeof STAT_KEYS): number {
  const match = STAT_KEYS[key].exec(text);
  return match ? Number(match[1]) : 0;
}

/** Sums the non-loopback interfaces of a /proc/<pid>/net/dev table. */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name?.trim() === 'lo') continue;
    const fields = rest.trim().split(/\s+/).map(Number);
    rxBytes += fields[0] ?? 0;
    txBytes += fields[8] ?? 0;
  }
  return { rxBytes, txBytes };
}

/** Where a process's counters live, from /proc/<pid>/cgroup; undefined when the files are not visible. */
export function cgroupPathsOf(pid: number): CgroupPaths | undefined {
  try {
    return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Synchronous on purpose: procfs and sysfs files are generated from kernel memory and never wait on a disk, and
 * a sync read costs microseconds where each async one is a thread-pool round trip (four per sample, 400 a
 * second for 200 servers every 2 s; measured by bench/realtime.mjs and bench/density.mjs). `paths` is the
 * process's cgroup (cgroupPathsOf), which the caller keeps for as long as the pid is the same: a process never
 * changes cgroup under Docker.
 */
export function readCgroupSample(
  pid: number,
  paths: CgroupPaths,
  now: () => number = performance.now.bind(performance),
): RawSample | undefined {
  try {
    const read = (file: string) => readFileSync(file, 'utf8');
    const v1 = paths.version === 1;
    const cpuText = read(v1 ? `${paths.cpu}/cpuacct.usage` : `${paths.cpu}/cpu.stat`);
    const memUsage = read(v1 ? `${paths.memory}/memory.usage_in_bytes` : `${paths.memory}/memory.current`);
    const memStat = read(`${paths.memory}/memory.stat`);
    const netDev = read(`/proc/${pid}/net/dev`);
    const cpuNs = v1 ? Number(cpuText.trim()) : statValue(cpuText, 'usage_usec') * 1000;
    const inactive = v1 ? statValue(memStat, 'total_inactive_file') : statValue(memStat, 'inactive_file');
    const usage = Number(memUsage.trim());
    return { cpuNs, memoryBytes: Math.max(0, usage - inactive), ...parseNetDev(netDev), at: now() };
  } catch {
    return undefined;
  }
}
