import type { Check } from './doctor-report.js';

/** The controllers a game server's limits need: memory and swap, CPU, the PID cap, IO weight. */
export const NEEDED_CONTROLLERS = ['memory', 'cpu', 'pids', 'io'] as const;
/** cgroup v1 names the io controller blkio. */
const V1_NAMES: Record<string, string> = { io: 'blkio' };

interface Mount {
  point: string;
  type: string;
  options: string[];
}

function parseMounts(text: string): Mount[] {
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length >= 4)
    .map(([, point = '', type = '', options = '']) => ({ point, type, options: options.split(',') }));
}

/**
 * The cgroup check of `doctor`, from the mount table (/proc/self/mounts) and the root's `cgroup.controllers`.
 * Unified v2 at `root` with every needed controller: ok. A v1 (or hybrid) host with every controller mounted
 * works (Docker 20.10 supports it) but is a warning: the agent reads v2 files first, and v1 IO weights are
 * coarse. Missing controllers fail: the limits in a create_server payload would silently not apply.
 */
export function cgroupCheck(mounts: string, controllers: string | undefined, root = '/sys/fs/cgroup'): Check {
  const table = parseMounts(mounts);
  const unified = table.find((m) => m.type === 'cgroup2' && m.point === root);
  if (unified) {
    const available = new Set((controllers ?? '').trim().split(/\s+/).filter(Boolean));
    const missing = NEEDED_CONTROLLERS.filter((c) => !available.has(c));
    return missing.length === 0
      ? { name: 'cgroup', status: 'ok', detail: `cgroup v2 at ${root}, controllers ${NEEDED_CONTROLLERS.join(', ')}` }
      : {
          name: 'cgroup',
          status: 'fail',
          detail: `cgroup v2 at ${root} lacks the ${missing.join(', ')} controller(s)`,
          fix: `enable them in the kernel (no cgroup_disable=${missing[0]} on the command line) and let systemd delegate them`,
        };
  }
  const v1 = table.filter((m) => m.type === 'cgroup');
  if (v1.length > 0) {
    const mounted = new Set(v1.flatMap((m) => m.options));
    const missing = NEEDED_CONTROLLERS.map((c) => V1_NAMES[c] ?? c).filter((c) => !mounted.has(c));
    return missing.length === 0
      ? {
          name: 'cgroup',
          status: 'warn',
          detail: 'cgroup v1: limits work, v2 is recommended (unified accounting, IO weights)',
          fix: 'boot with systemd.unified_cgroup_hierarchy=1 (the default on Debian 11 and newer)',
        }
      : {
          name: 'cgroup',
          status: 'fail',
          detail: `cgroup v1 without the ${missing.join(', ')} controller(s)`,
          fix: `mount them (cgroupfs-mount) or boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)`,
        };
  }
  return {
    name: 'cgroup',
    status: 'fail',
    detail: 'no cgroup filesystem is mounted',
    fix: `mount cgroup2 at ${root} (mount -t cgroup2 none ${root}) or boot a systemd host`,
  };
}
