import { describe, expect, it } from 'vitest';
import { parseNetDev, parseProcCgroup } from '../../../src/metrics/cgroup-stats.js';
import { parseMeminfo, parseProcStat } from '../../../src/metrics/host-metrics.js';

describe('cgroup and proc parsers', () => {
  it('finds v1 cpuacct and memory directories from /proc/<pid>/cgroup', () => {
    const text = [
      '12:pids:/docker/abc',
      '4:cpu,cpuacct:/docker/abc',
      '9:memory:/docker/abc',
      '1:name=systemd:/docker/abc',
      '0::/system.slice/containerd.service',
    ].join('\n');
    expect(parseProcCgroup(text, '/sys/fs/cgroup')).toEqual({
      version: 1,
      cpu: '/sys/fs/cgroup/cpu,cpuacct/docker/abc',
      memory: '/sys/fs/cgroup/memory/docker/abc',
    });
  });

  it('uses the unified hierarchy on cgroup v2', () => {
    expect(parseProcCgroup('0::/system.slice/docker-abc.scope\n')).toEqual({
      version: 2,
      cpu: '/sys/fs/cgroup/system.slice/docker-abc.scope',
      memory: '/sys/fs/cgroup/system.slice/docker-abc.scope',
    });
    expect(parseProcCgroup('garbage')).toBeUndefined();
  });

  it('sums non-loopback interfaces of /proc/net/dev', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    5000      10    0    0    0     0          0         0     7000      12    0    0    0     0       0          0
  eth1:      20       1    0    0    0     0          0         0       30       1    0    0    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual({ rxBytes: 5020, txBytes: 7030 });
  });

  it('reads busy and total jiffies and available memory', () => {
    expect(parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 150, total: 1000 });
    expect(parseMeminfo('MemTotal:       2048 kB\nMemFree:  100 kB\nMemAvailable:   1024 kB\n')).toEqual({
      totalBytes: 2048 * 1024,
      availableBytes: 1024 * 1024,
    });
  });
});
