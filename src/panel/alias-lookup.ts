import type { Logger } from 'pino';
import type { ServerRegistry } from '../servers/registry.js';

/**
 * Learns the panel's database ids (PROTOCOL.md §5 "Panel lookup"): `GET {panelUrl}/api/agents/{nodeUuid}/servers`
 * with the panel API token; every `id` whose `uuid` is a known canonical id becomes an alias. Runs at boot, when
 * the link is established and for an unknown id, at most once per `minIntervalMs` (or when a server was added since), with a 5 s timeout.
 */
export class PanelAliasLookup {
  private lastRun = 0;
  private lastGeneration = -1;
  private running: Promise<void> | undefined;

  constructor(
    private readonly options: {
      panelUrl: string;
      nodeId: string;
      apiToken: string;
      registry: ServerRegistry;
      log: Logger;
      version: string;
      minIntervalMs?: number;
      timeoutMs?: number;
    },
  ) {}

  /** Refreshes the alias table unless it ran recently; never throws. */
  refresh(): Promise<void> {
    const minInterval = this.options.minIntervalMs ?? 30_000;
    if (this.running) return this.running;
    // At most once per interval, unless a server was added since: its database id cannot be known yet.
    const { registry } = this.options;
    if (Date.now() - this.lastRun < minInterval && registry.generation === this.lastGeneration)
      return Promise.resolve();
    this.lastRun = Date.now();
    this.lastGeneration = registry.generation;
    this.running = this.fetchAliases().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async fetchAliases(): Promise<void> {
    const { panelUrl, nodeId, apiToken, registry, log } = this.options;
    const url = `${panelUrl.replace(/\/+$/, '')}/api/agents/${encodeURIComponent(nodeId)}/servers`;
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${apiToken}`, 'user-agent': `ctrl-alt-play-agent/${this.options.version}` },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      if (res.status === 401 || res.status === 403) {
        log.error(
          { status: res.status },
          'the panel refused panel.apiToken (it lasts 7 days); aliases are not refreshed',
        );
        return;
      }
      if (!res.ok) {
        log.warn({ status: res.status }, 'panel server list unavailable');
        return;
      }
      const body = (await res.json()) as { data?: { id?: unknown; uuid?: unknown }[] };
      let added = 0;
      for (const row of Array.isArray(body.data) ? body.data.slice(0, 100_000) : []) {
        if (typeof row.id !== 'string' || typeof row.uuid !== 'string' || !registry.get(row.uuid)) continue;
        if (registry.find(row.id)?.id === row.uuid) continue;
        await registry.addAlias(row.id, row.uuid).then(
          () => added++,
          (err: Error) => log.warn({ alias: row.id, reason: err.message }, 'alias from the panel refused'),
        );
      }
      if (added > 0) log.info({ added }, 'aliases learnt from the panel');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'panel server list lookup failed');
    }
  }
}
