/**
 * A bounded FIFO that overwrites its oldest item: O(1) push. The backing array grows only as items arrive, so
 * fifty idle servers with 10,000-line consoles do not hold 10,000 empty slots each.
 */
export class RingBuffer<T> {
  private items: T[] = [];
  private start = 0;
  private count = 0;

  constructor(private cap: number) {}

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Adds an item; returns the one it overwrote when full. */
  push(item: T): T | undefined {
    if (this.count < this.cap) {
      // Until the buffer first fills, this index is the array's length: it grows by appending.
      this.items[(this.start + this.count) % this.cap] = item;
      this.count++;
      return undefined;
    }
    const evicted = this.items[this.start];
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.cap;
    return evicted;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.start];
    this.start = (this.start + 1) % this.cap;
    this.count--;
    if (this.count === 0) this.clear();
    return item;
  }

  /** The newest `n` items, oldest first. */
  last(n: number): T[] {
    const take = Math.max(0, Math.min(n, this.count));
    const out: T[] = new Array(take);
    for (let i = 0; i < take; i++) out[i] = this.items[(this.start + this.count - take + i) % this.cap] as T;
    return out;
  }

  clear(): void {
    this.items = [];
    this.start = 0;
    this.count = 0;
  }

  /** Changes the capacity, keeping the newest items. */
  resize(capacity: number): void {
    const kept = this.last(capacity);
    this.cap = capacity;
    this.clear();
    for (const item of kept) this.push(item);
  }
}
