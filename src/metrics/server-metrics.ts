import { findServerContainer } from '../servers/container.js';
import type { ServerContext } from '../servers/context.js';
import type { Server } from '../servers/server.js';
import { type CgroupPaths, cgroupPathsOf, type RawSample, readCgroupSample } from './cgroup-stats.js';

const MIB = 1024 * 1024;
/** A CPU figure needs two samples; a previous one older than this is too stale to average over. */
const MAX_BASELINE_AGE_MS = 5 * 60_000;
/**
 * The shortest window a CPU figure is averaged over. CFS enforces a CPU limit per 100 ms period, so a window of a
 * few ms can show a capped server at several times its limit; half a second spans five periods.
 */
const MIN_WINDOW_MS = 500;

/** The exact shape the panel writes into its metrics table (PROTOCOL.md §4.2). */
export interface ServerMetricsData {
  cpu: number;
  memory: number;
  disk: number;
  network: { in: number; out: number };
  players: number;
  timestamp: string;
  memoryLimit: number;
  cpuLimit: number;
  uptime: number;
  status: string;
  [key: string]: unknown;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Samples running servers from their cgroups (Docker's stats API as a fallback) and keeps the previous sample
 * per server so CPU is an average since the last call. A stopped server reports zeros with its real disk use,
 * never an error: the panel polls servers it wrongly believes are running.
 */
export class ServerMetrics {
  private readonly previous = new Map<string, RawSample>();
  /** The last figures handed out per server, for /metrics: a scrape reads these and never samples itself. */
  private readonly latest = new Map<string, { data: ServerMetricsData; at: number }>();
  private readonly cgroups = new Map<string, { pid: number; paths: CgroupPaths }>();

  /** `players` is the last game query's answer (game-queries.ts): read here, never queried on this path. */
  constructor(
    private readonly ctx: Pick<ServerContext, 'bus' | 'disk' | 'runtime'>,
    private readonly players: (serverId: string) => number = () => 0,
  ) {
    // A deleted server's baselines and last figures would otherwise stay in these maps for the agent's lifetime.
    ctx.bus.subscribe((event) => {
      if (event.event === 'server_deleted' && event.serverId) this.forget(event.serverId);
    });
  }

  async sample(server: Server): Promise<ServerMetricsData> {
    const data = await this.measure(server);
    this.latest.set(server.id, { data, at: Date.now() });
    return data;
  }

  /** The last sample taken for the panel or a stats subscriber (no I/O), and when (epoch ms). */
  cached(serverId: string): { data: ServerMetricsData; at: number } | undefined {
    return this.latest.get(serverId);
  }

  /** Drops the cached figures of servers that are gone (the maps stay bounded by the registry). */
  retain(isKnown: (serverId: string) => boolean): void {
    for (const id of this.latest.keys()) if (!isKnown(id)) this.latest.delete(id);
    for (const id of this.previous.keys()) if (!isKnown(id)) this.previous.delete(id);
    for (const id of this.cgroups.keys()) if (!isKnown(id)) this.cgroups.delete(id);
  }

  private async measure(server: Server): Promise<ServerMetricsData> {
    const diskBytes = await this.ctx.disk.usedBytes(server.id, server.dataDir).catch(() => 0);
    const base = {
      disk: round2(diskBytes / MIB),
      players: this.players(server.id),
      timestamp: new Date().toISOString(),
      memoryLimit: server.spec.limits.memory,
      cpuLimit: server.spec.limits.cpu,
      status: server.state,
    };
    const zeros = { ...base, cpu: 0, memory: 0, network: { in: 0, out: 0 }, uptime: 0 };
    if (server.state !== 'running' && server.state !== 'starting' && server.state !== 'stopping') {
      this.previous.delete(server.id);
      return zeros;
    }
    const running = server.running ?? (await this.lookup(server));
    if (!running) return zeros;
    const paths = this.cgroupOf(server.id, running.pid);
    const read = async (): Promise<RawSample> => {
      const sample = paths ? readCgroupSample(running.pid, paths) : undefined;
      if (sample) return sample;
      // Read again next time: a pid reused by another container would name a cgroup that is gone.
      this.cgroups.delete(server.id);
      return { ...(await this.ctx.runtime.statsOnce(running.containerId)), at: performance.now() };
    };
    let current: RawSample;
    try {
      current = await read();
    } catch {
      // The process exited between the state check and the read: report it as stopped, never an error.
      server.running = undefined;
      return zeros;
    }
    let prev = this.previous.get(server.id);
    if (!prev || current.at - prev.at > MAX_BASELINE_AGE_MS || current.cpuNs < prev.cpuNs) {
      prev = current;
      this.previous.set(server.id, prev);
    }
    if (current.at - prev.at < MIN_WINDOW_MS) {
      await new Promise((r) => setTimeout(r, MIN_WINDOW_MS - (current.at - prev.at)));
      current = await read().catch(() => current);
    }
    // The next call averages from here.
    this.previous.set(server.id, current);
    const elapsedNs = (current.at - prev.at) * 1e6;
    const cpu = elapsedNs > 0 ? ((current.cpuNs - prev.cpuNs) / elapsedNs) * 100 : 0;
    const startedAt = server.startedAt ? Date.parse(server.startedAt) : Date.now();
    return {
      ...base,
      cpu: round2(Math.max(0, cpu)),
      memory: round2(current.memoryBytes / MIB),
      network: { in: current.rxBytes, out: current.txBytes },
      uptime: Math.max(0, Math.floor((Date.now() - startedAt) / 1000)),
    };
  }

  /** The process's cgroup directories, read once per pid (the pid changes with each start of the server). */
  private cgroupOf(serverId: string, pid: number): CgroupPaths | undefined {
    const known = this.cgroups.get(serverId);
    if (known?.pid === pid) return known.paths;
    const paths = cgroupPathsOf(pid);
    if (paths) this.cgroups.set(serverId, { pid, paths });
    return paths;
  }

  /** The container and pid from the Engine, for a server whose start the agent did not witness. */
  private async lookup(server: Server): Promise<{ containerId: string; pid: number } | undefined> {
    const container = await findServerContainer(this.ctx.runtime, server);
    const status = container ? await this.ctx.runtime.status(container.id) : undefined;
    if (!container || !status?.running) return undefined;
    server.running = { containerId: container.id, pid: status.pid };
    return server.running;
  }

  forget(serverId: string): void {
    this.previous.delete(serverId);
    this.latest.delete(serverId);
    this.cgroups.delete(serverId);
  }
}
