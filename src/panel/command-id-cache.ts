/**
 * Bounded cache of the responses to recent command ids. A panel that retries a command after a reconnect sends
 * the same id again; the cached response is re-sent instead of executing the command twice. Insertion order of a
 * Map gives least-recently-added eviction, so the memory held is bounded by `capacity` entries.
 */
export class CommandIdCache<T> {
  readonly #entries = new Map<string, T>();

  constructor(readonly capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  get(id: string): T | undefined {
    return this.#entries.get(id);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  set(id: string, value: T): void {
    this.#entries.delete(id);
    this.#entries.set(id, value);
    while (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
