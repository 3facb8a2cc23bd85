import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { dataDirLayout } from '../config/data-dir.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';
import type { ServerSpec } from './spec.js';
import type { ServerState, StateReason } from './state.js';

/** An acknowledged power action that must still be carried out after an agent restart (PROTOCOL.md §7). */
export interface PendingPower {
  action: 'start' | 'stop' | 'restart';
  signal: string;
  timeoutS: number;
}

export interface PersistedServer {
  version: 1;
  spec: ServerSpec;
  state: ServerState;
  reason: StateReason | undefined;
  pending: PendingPower | undefined;
  lastExit: { exitCode: number; oomKilled: boolean; at: string } | undefined;
  suspended: boolean;
}

/**
 * Persists one JSON file per server plus the alias table, each written atomically. Writes for one file are
 * chained so an older snapshot can never overtake a newer one.
 */
export class ServerStore {
  private readonly serversDir: string;
  private readonly aliasFile: string;
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    const layout = dataDirLayout(dataDir);
    this.serversDir = layout.servers;
    this.aliasFile = layout.aliases;
  }

  private fileFor(id: string): string {
    return path.join(this.serversDir, `${id}.json`);
  }

  private chain(key: string, job: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(job, job);
    this.chains.set(key, next);
    // The caller handles `next`'s failure; this bookkeeping branch must not become an unhandled rejection.
    const forget = () => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    };
    next.then(forget, forget);
    return next;
  }

  save(record: PersistedServer): Promise<void> {
    return this.chain(record.spec.id, () => writeJsonAtomic(this.fileFor(record.spec.id), record));
  }

  remove(id: string): Promise<void> {
    return this.chain(id, () => rm(this.fileFor(id), { force: true }));
  }

  saveAliases(aliases: Record<string, string>): Promise<void> {
    return this.chain('\0aliases', () => writeJsonAtomic(this.aliasFile, aliases));
  }

  /** Waits for every queued write (shutdown). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  /** Loads every server; an unreadable file is moved aside and reported, never fatal. */
  async loadAll(): Promise<PersistedServer[]> {
    let names: string[];
    try {
      names = await readdir(this.serversDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: PersistedServer[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const file = path.join(this.serversDir, name);
      try {
        const record = (await readJsonIfExists(file)) as PersistedServer | undefined;
        if (record?.version !== 1 || !record.spec?.id) throw new Error('not a server record');
        out.push(record);
      } catch (err) {
        this.log.error({ err, file }, 'unreadable server record; moved aside as .corrupt');
        await rename(file, `${file}.corrupt`).catch(() => undefined);
      }
    }
    return out;
  }

  /** The ids of the persisted servers, without reading their records (the CLI checks aliases against them). */
  async serverIds(): Promise<string[]> {
    const names = await readdir(this.serversDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -5));
  }

  async loadAliases(): Promise<Record<string, string>> {
    try {
      const value = await readJsonIfExists(this.aliasFile);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, string>;
      return {};
    } catch (err) {
      this.log.error({ err, file: this.aliasFile }, 'unreadable alias table; starting with none');
      return {};
    }
  }
}
