import { describe, expect, it } from 'vitest';
import { cgroupCheck } from '../../../src/cli/cgroup-check.js';
import { dockerFix } from '../../../src/cli/docker-check.js';

const V2 = 'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n';
const V1 = [
  'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
  'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
  'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
  'cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0',
  'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0',
  'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
].join('\n');

describe('the cgroup check', () => {
  it('passes v2 with memory, cpu, pids and io; fails naming what is missing', () => {
    expect(cgroupCheck(V2, 'cpuset cpu io memory hugetlb pids rdma\n')).toMatchObject({ status: 'ok' });
    const missing = cgroupCheck(V2, 'cpuset cpu memory\n');
    expect(missing).toMatchObject({ status: 'fail' });
    expect(missing.detail).toMatch(/lacks the pids, io controller/);
    expect(cgroupCheck(V2, undefined)).toMatchObject({ status: 'fail' });
  });

  it('warns on a complete v1 (or hybrid) host, fails on an incomplete one, fails with no cgroups at all', () => {
    expect(cgroupCheck(V1, undefined)).toMatchObject({ status: 'warn' });
    const noPids = cgroupCheck(V1.replace(/.*pids.*\n/, ''), undefined);
    expect(noPids).toMatchObject({ status: 'fail' });
    expect(noPids.detail).toMatch(/without the pids/);
    expect(cgroupCheck('proc /proc proc rw 0 0\n', undefined)).toMatchObject({ status: 'fail' });
  });
});

describe('the Docker fix', () => {
  it('is specific to the error the socket gave', () => {
    expect(dockerFix('ENOENT', '/var/run/docker.sock')).toMatch(/not installed or not running/);
    expect(dockerFix('EACCES', '/var/run/docker.sock')).toMatch(/run the agent as root .*docker group/);
    expect(dockerFix('ECONNREFUSED', '/var/run/docker.sock')).toMatch(/dockerd is not running or not listening/);
    expect(dockerFix('TIMEOUT', '/var/run/docker.sock')).toMatch(/hung/);
    expect(dockerFix('ECONNREFUSED', 'tcp://10.0.0.5:2375')).toMatch(/on tcp:\/\/10\.0\.0\.5:2375/);
    const all = ['ENOENT', 'EACCES', 'ECONNREFUSED', 'TIMEOUT', undefined].map((c) => dockerFix(c, '/s'));
    expect(new Set(all).size).toBe(all.length);
  });
});
