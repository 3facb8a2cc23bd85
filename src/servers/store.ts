import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { dataDirLayout } from '../config/data-dir.js';
import { AgentError } from '../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';
import type { ServerSpec } from './spec.js';
import type { ServerState, StateReason } from './state.js';

/** An acknowledged power action that must still be carried out after an agent restart (PROTOCOL.md §7). */
export interface PendingPower {
  action: 'start' | 'stop' | 'restart';
  signal: string;
  timeoutS: number;
}

/** The version of the server record this agent writes. */
export const RECORD_VERSION = 1;

/**
 * `from` → the step to `from + 1`. Version 1 is the first: nothing to migrate yet. A step takes the parsed JSON of
 * the older record and returns the next version's; the record is rewritten (atomically) only once it is current.
 */
export const RECORD_MIGRATIONS: Readonly<Record<number, (record: Record<string, unknown>) => Record<string, unknown>>> =
  {};

export type RecordVerdict =
  | { kind: 'current'; record: PersistedServer; migrated: boolean }
  | { kind: 'newer'; version: number }
  | { kind: 'corrupt'; reason: string };

/** Reads one parsed record: current, migrated up to current, written by a newer agent, or not a record at all. */
export function migrateRecord(raw: unknown, current = RECORD_VERSION, migrations = RECORD_MIGRATIONS): RecordVerdict {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { kind: 'corrupt', reason: 'not an object' };
  let record = raw as Record<string, unknown>;
  const version = record.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return { kind: 'corrupt', reason: 'no record version' };
  }
  if (version > current) return { kind: 'newer', version };
  for (let v = version; v < current; v++) {
    const step = migrations[v];
    if (!step) return { kind: 'corrupt', reason: `no migration from record version ${v}` };
    record = { ...step(record), version: v + 1 };
  }
  const spec = record.spec as { id?: unknown } | undefined;
  if (typeof spec?.id !== 'string') return { kind: 'corrupt', reason: 'no spec id' };
  return { kind: 'current', record: record as unknown as PersistedServer, migrated: version < current };
}

export interface PersistedServer {
  version: typeof RECORD_VERSION;
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

  /** Ids whose record a newer agent wrote (loadAll): never overwritten, not even by a create with the same id. */
  readonly refusedIds = new Set<string>();

  save(record: PersistedServer): Promise<void> {
    if (this.refusedIds.has(record.spec.id)) {
      return Promise.reject(
        new AgentError('ALREADY_EXISTS', `server ${record.spec.id} has a record from a newer agent; upgrade the agent`),
      );
    }
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

  /**
   * Loads every server. An unreadable file is moved aside (`.corrupt`) and reported, never fatal. A record from a
   * newer agent (after a downgrade) is left exactly where it is, unloaded: the newer agent can still read it, and
   * its container, labelled with this agent's id, is left alone by reconciliation instead of being adopted.
   */
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
        const verdict = migrateRecord(await readJsonIfExists(file));
        if (verdict.kind === 'newer') {
          this.refusedIds.add(name.slice(0, -'.json'.length));
          this.log.error(
            { file, version: verdict.version, supported: RECORD_VERSION },
            'server record written by a newer agent; this server is not loaded (the file is kept as it is): ' +
              'upgrade the agent to manage it again',
          );
          continue;
        }
        if (verdict.kind === 'corrupt') throw new Error(`not a server record: ${verdict.reason}`);
        if (verdict.migrated) await this.save(verdict.record);
        out.push(verdict.record);
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
