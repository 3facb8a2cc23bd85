import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Server } from '../servers/server.js';
import { SERVER_STATES } from '../servers/state.js';
import { type MetricFamily, renderExposition, type Sample } from './prometheus-text.js';
import type { ServerMetrics } from './server-metrics.js';

const MIB = 1024 * 1024;
/** The panel link's states (PROTOCOL.md §6.4); every one gets a series, 1 for the current state. */
const PANEL_LINK_STATES = ['disabled', 'connecting', 'open', 'established'] as const;
const ACTIVE = new Set(['starting', 'running', 'stopping']);
/** Between event-loop samples: 10 wake-ups a second on an idle daemon instead of the default 100. */
const LOOP_RESOLUTION_MS = 100;

/** What a scrape reads: live objects' cached figures only. Nothing here may call Docker or walk a cgroup. */
export interface MetricSources {
  version: string;
  protocolVersion: number;
  nodeId: string;
  agentId: string;
  startedAtMs: number;
  docker(): { state: 'unknown' | 'reachable' | 'unreachable'; version: string | undefined };
  panelLink(): string;
  servers(): readonly Server[];
  /** The last figures get_server_metrics or a stats subscriber produced (ServerMetrics keeps them). */
  serverMetrics: Pick<ServerMetrics, 'cached' | 'retain'>;
  /** The cached disk figure of a server (DiskUsageTracker.peek): no walk. */
  diskBytes(serverId: string): number | undefined;
  /** Events held for the panel's resume (the replay buffer behind the persisted outbox); undefined: no panel. */
  panelOutboxEvents(): number | undefined;
  /** Webhook deliveries waiting; undefined: webhooks are off. */
  webhookOutboxEntries(): number | undefined;
}

const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({
  name,
  help,
  type: 'gauge',
  samples,
});
const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({
  name,
  help,
  type: 'counter',
  samples,
});

/**
 * Builds the /metrics page. The event-loop monitor starts on the first scrape, so an agent nobody scrapes pays
 * nothing for it; its histogram is reset after each scrape, so the lag figures cover the time since the last one.
 */
export class AgentMetrics {
  private loop: ReturnType<typeof monitorEventLoopDelay> | undefined;

  constructor(private readonly sources: MetricSources) {}

  render(): string {
    return renderExposition(this.collect());
  }

  collect(): MetricFamily[] {
    const s = this.sources;
    const docker = s.docker();
    const servers = s.servers();
    const known = new Set(servers.map((server) => server.id));
    s.serverMetrics.retain((id) => known.has(id));

    const byState = new Map<string, number>(SERVER_STATES.map((state) => [state, 0]));
    for (const server of servers) byState.set(server.state, (byState.get(server.state) ?? 0) + 1);
    const link = s.panelLink();
    const outboxes: Sample[] = [];
    const panelDepth = s.panelOutboxEvents();
    if (panelDepth !== undefined) outboxes.push({ labels: { outbox: 'panel' }, value: panelDepth });
    const webhookDepth = s.webhookOutboxEntries();
    if (webhookDepth !== undefined) outboxes.push({ labels: { outbox: 'webhook' }, value: webhookDepth });

    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    return [
      gauge('ctrl_alt_play_agent_up', 'The agent is serving (always 1 when this page answers).', [{ value: 1 }]),
      gauge('ctrl_alt_play_agent_info', 'Constant 1, labelled with the agent version and identity.', [
        {
          labels: {
            version: s.version,
            protocol_version: String(s.protocolVersion),
            node_id: s.nodeId,
            agent_id: s.agentId,
          },
          value: 1,
        },
      ]),
      gauge('process_start_time_seconds', 'Start time of the agent since the Unix epoch, in seconds.', [
        { value: Math.floor(s.startedAtMs / 1000) },
      ]),
      gauge('ctrl_alt_play_docker_up', '1 when the last ping of the Docker Engine answered, else 0.', [
        { value: docker.state === 'reachable' ? 1 : 0 },
      ]),
      gauge(
        'ctrl_alt_play_docker_info',
        'Constant 1, labelled with the Engine version (empty until it answered once).',
        [{ labels: { version: docker.version ?? '' }, value: 1 }],
      ),
      gauge(
        'ctrl_alt_play_panel_link_state',
        'The outbound panel link: 1 for the current state.',
        PANEL_LINK_STATES.map((state) => ({ labels: { state }, value: state === link ? 1 : 0 })),
      ),
      gauge(
        'ctrl_alt_play_servers',
        'Game servers on this node by state.',
        [...byState].map(([state, n]) => ({ labels: { state }, value: n })),
      ),
      gauge('ctrl_alt_play_outbox_events', 'Entries waiting in an outbox (panel: replayable events).', outboxes),
      counter(
        'ctrl_alt_play_console_dropped_lines_total',
        'Console lines kept out of events by the flood limit (they stay in the history).',
        servers.map((server) => ({ labels: { server_id: server.id }, value: server.console.droppedTotal })),
      ),
      ...this.loopFamilies(),
      gauge('process_resident_memory_bytes', 'Resident memory of the agent process.', [{ value: memory.rss }]),
      gauge('nodejs_heap_used_bytes', 'V8 heap in use.', [{ value: memory.heapUsed }]),
      gauge('nodejs_heap_total_bytes', 'V8 heap reserved.', [{ value: memory.heapTotal }]),
      counter('process_cpu_seconds_total', 'CPU time of the agent process (user and system).', [
        { value: (cpu.user + cpu.system) / 1e6 },
      ]),
      ...this.serverFamilies(servers),
    ];
  }

  private loopFamilies(): MetricFamily[] {
    const first = !this.loop;
    this.loop ??= monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    if (first) this.loop.enable();
    const h = this.loop;
    // The histogram records the time between two of its timer's runs, resolution included (an idle loop reads
    // about 101 ms): the lag is what exceeds the resolution. After a reset its first interval is not recorded.
    const seconds = (ns: number) =>
      Number.isFinite(ns) && h.count > 0 ? Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000) : 0;
    const families = [
      gauge(
        'ctrl_alt_play_event_loop_lag_seconds',
        'Event-loop delay since the previous scrape, by quantile (0 on the first scrape).',
        [0.5, 0.9, 0.99].map((q) => ({ labels: { quantile: String(q) }, value: seconds(h.percentile(q * 100)) })),
      ),
      gauge('ctrl_alt_play_event_loop_lag_max_seconds', 'Largest event-loop delay since the previous scrape.', [
        { value: seconds(h.max) },
      ]),
    ];
    h.reset();
    return families;
  }

  /**
   * Per-server figures from the last sample taken for the panel or a subscriber: a scrape of 200 servers must not
   * walk 200 cgroups. A server nobody asked about has no sample yet (its series are absent); the age says how old
   * a figure is. A server that is not running reports zero CPU and memory whatever its last sample said.
   */
  private serverFamilies(servers: readonly Server[]): MetricFamily[] {
    const cpu: Sample[] = [];
    const mem: Sample[] = [];
    const players: Sample[] = [];
    const age: Sample[] = [];
    const disk: Sample[] = [];
    const now = Date.now();
    for (const server of servers) {
      const labels = { server_id: server.id };
      const bytes = this.sources.diskBytes(server.id);
      if (bytes !== undefined) disk.push({ labels, value: bytes });
      const cached = this.sources.serverMetrics.cached(server.id);
      if (!cached) continue;
      const active = ACTIVE.has(server.state);
      cpu.push({ labels, value: active ? cached.data.cpu : 0 });
      mem.push({ labels, value: active ? Math.round(cached.data.memory * MIB) : 0 });
      players.push({ labels, value: active ? cached.data.players : 0 });
      age.push({ labels, value: Math.max(0, (now - cached.at) / 1000) });
    }
    return [
      gauge('ctrl_alt_play_server_cpu_percent', 'CPU of a game server, percent of one core (last sample).', cpu),
      gauge('ctrl_alt_play_server_memory_bytes', 'Memory of a game server (last sample).', mem),
      gauge('ctrl_alt_play_server_disk_bytes', "Bytes used in a game server's directory (cached walk).", disk),
      gauge('ctrl_alt_play_server_players', 'Players online (last sample; 0 where no query answers).', players),
      gauge('ctrl_alt_play_server_sample_age_seconds', 'Age of the last resource sample of a server.', age),
    ];
  }

  close(): void {
    this.loop?.disable();
  }
}
