import { AgentError } from '../errors.js';
import { checkAlias } from './alias-rules.js';
import type { Server } from './server.js';
import type { ServerStore } from './store.js';

/**
 * The servers this node knows, by canonical id, and the alias table (alias → canonical id, PROTOCOL.md §5).
 * An alias names exactly one server and is never another server's canonical id.
 */
export class ServerRegistry {
  private readonly servers = new Map<string, Server>();
  private aliasTable = new Map<string, string>();
  /** Grows whenever a server is added: lets a lookup tell whether something new could have an alias now. */
  generation = 0;

  constructor(private readonly store: ServerStore) {}

  async loadAliases(): Promise<void> {
    const raw = await this.store.loadAliases();
    this.aliasTable = new Map(Object.entries(raw).filter(([, canonical]) => typeof canonical === 'string'));
  }

  add(server: Server): void {
    this.servers.set(server.id, server);
    this.generation++;
    // A canonical id can no longer be an alias of another server.
    if (this.aliasTable.delete(server.id)) void this.saveAliases();
  }

  get(id: string): Server | undefined {
    return this.servers.get(id);
  }

  /** Canonical id first, then the alias table. Throws SERVER_NOT_FOUND. */
  resolve(id: string): Server {
    const server = this.find(id);
    if (!server) throw new AgentError('SERVER_NOT_FOUND', `server ${id} not found on this node`, { serverId: id });
    return server;
  }

  find(id: string): Server | undefined {
    const direct = this.servers.get(id);
    if (direct) return direct;
    const canonical = this.aliasTable.get(id);
    return canonical === undefined ? undefined : this.servers.get(canonical);
  }

  list(): Server[] {
    return [...this.servers.values()];
  }

  get size(): number {
    return this.servers.size;
  }

  aliasesOf(canonical: string): string[] {
    const out: string[] = [];
    for (const [alias, target] of this.aliasTable) if (target === canonical) out.push(alias);
    return out;
  }

  aliasEntries(): [string, string][] {
    return [...this.aliasTable.entries()];
  }

  async addAlias(alias: string, canonical: string): Promise<void> {
    const verdict = checkAlias(alias, canonical, {
      isServer: (id) => this.servers.has(id),
      target: (a) => this.aliasTable.get(a),
      size: this.aliasTable.size,
    });
    if (verdict === 'unchanged') return;
    this.aliasTable.set(alias, canonical);
    await this.saveAliases();
  }

  async removeAlias(alias: string): Promise<boolean> {
    if (!this.aliasTable.delete(alias)) return false;
    await this.saveAliases();
    return true;
  }

  /** Forgets a server and its aliases. */
  async remove(canonical: string): Promise<void> {
    this.servers.delete(canonical);
    let changed = false;
    for (const [alias, target] of this.aliasTable) {
      if (target === canonical) {
        this.aliasTable.delete(alias);
        changed = true;
      }
    }
    if (changed) await this.saveAliases();
  }

  private saveAliases(): Promise<void> {
    return this.store.saveAliases(Object.fromEntries(this.aliasTable));
  }
}
