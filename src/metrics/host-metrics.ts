import { statfsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { parseNetDev } from './cgroup-stats.js';

/** Host figures for get_system_metrics (PROTOCOL.md §4.2): CPU % of the whole host, memory and disk in bytes. */

interface CpuTimes {
  busy: number;
  total: number;
  at: number;
}

/** Parses the aggregate "cpu" line of /proc/stat into busy and total jiffies. */
export function parseProcStat(text: string): { busy: number; total: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const fields = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const value = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: value('MemTotal'), availableBytes: value('MemAvailable') };
}

export class HostMetrics {
  private previous: CpuTimes | undefined;

  constructor(private readonly dataDir: string) {}

  private async cpuTimes(): Promise<CpuTimes> {
    return { ...parseProcStat(await readFile('/proc/stat', 'utf8')), at: Date.now() };
  }

  /** CPU % since the previous call (or over 100 ms for the first, or after a long pause). */
  async cpuPercent(): Promise<number> {
    let prev = this.previous;
    let current = await this.cpuTimes();
    if (!prev || current.at - prev.at > 5 * 60_000) {
      prev = current;
      await new Promise((r) => setTimeout(r, 100));
      current = await this.cpuTimes();
    }
    this.previous = current;
    const total = current.total - prev.total;
    return total > 0 ? Math.round(((current.busy - prev.busy) / total) * 10_000) / 100 : 0;
  }

  async sample() {
    const [cpu, meminfo, disk, netDev] = await Promise.all([
      this.cpuPercent(),
      readFile('/proc/meminfo', 'utf8').then(parseMeminfo),
      statfs(this.dataDir),
      readFile('/proc/net/dev', 'utf8').then(parseNetDev, () => ({ rxBytes: 0, txBytes: 0 })),
    ]);
    const memoryUsed = meminfo.totalBytes - meminfo.availableBytes;
    const diskTotal = disk.blocks * disk.bsize;
    const diskUsed = (disk.blocks - disk.bfree) * disk.bsize;
    return {
      cpu,
      memory: memoryUsed,
      memoryTotal: meminfo.totalBytes,
      memoryPercent: meminfo.totalBytes > 0 ? Math.round((memoryUsed / meminfo.totalBytes) * 10_000) / 100 : 0,
      disk: {
        used: diskUsed,
        total: diskTotal,
        percentage: diskTotal > 0 ? Math.round((diskUsed / diskTotal) * 10_000) / 100 : 0,
      },
      network: { bytesIn: netDev.rxBytes, bytesOut: netDev.txBytes },
      uptime: Math.floor(os.uptime()),
      loadAverage: os.loadavg(),
      cpuCores: os.availableParallelism(),
    };
  }
}

/** The pong's systemLoad (PROTOCOL.md §6.1): percentages of the host, cheap enough for every app-level ping. */
export function systemLoadPercent(dataDir: string): { cpu: number; memory: number; disk: number } {
  const round = (n: number) => Math.round(n * 100) / 100;
  const cpu = ((os.loadavg()[0] ?? 0) / os.availableParallelism()) * 100;
  const memory = (1 - os.freemem() / os.totalmem()) * 100;
  let disk = 0;
  try {
    const st = statfsSync(dataDir);
    disk = st.blocks > 0 ? ((st.blocks - st.bfree) / st.blocks) * 100 : 0;
  } catch {
    // the data directory's filesystem is gone; report 0 rather than fail the pong
  }
  return { cpu: round(Math.min(100, cpu)), memory: round(memory), disk: round(disk) };
}
