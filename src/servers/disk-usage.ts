import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Disk use of each server's directory, cheap to ask for: a full walk runs at most once per `maxAgeMs` per
 * server (in the background once a figure exists), and file-API writes adjust the cached figure in between so
 * quota checks see their own writes at once. Walks are bounded by `maxEntries` so a directory with millions of
 * files cannot stall the agent; the figure is then a lower bound and `truncated` says so.
 */
export interface DiskFigure {
  bytes: number;
  measuredAt: number;
  truncated: boolean;
}

export class DiskUsageTracker {
  private readonly figures = new Map<string, DiskFigure>();
  private readonly walks = new Map<string, Promise<DiskFigure>>();

  constructor(private readonly options: { maxAgeMs?: number; maxEntries?: number; now?: () => number } = {}) {}

  private get maxAgeMs(): number {
    return this.options.maxAgeMs ?? 60_000;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Bytes used under `dir`: cached, refreshed when older than maxAgeMs (awaited only the first time). */
  async usedBytes(key: string, dir: string): Promise<number> {
    const figure = this.figures.get(key);
    if (!figure) return (await this.refresh(key, dir)).bytes;
    if (this.now() - figure.measuredAt > this.maxAgeMs) void this.refresh(key, dir).catch(() => undefined);
    return figure.bytes;
  }

  /** The cached figure without any I/O (undefined before the first walk). */
  peek(key: string): DiskFigure | undefined {
    return this.figures.get(key);
  }

  /** Records a change made through the agent (a write, delete or extract) until the next walk. */
  adjust(key: string, deltaBytes: number): void {
    const figure = this.figures.get(key);
    if (figure) figure.bytes = Math.max(0, figure.bytes + deltaBytes);
  }

  forget(key: string): void {
    this.figures.delete(key);
  }

  refresh(key: string, dir: string): Promise<DiskFigure> {
    const running = this.walks.get(key);
    if (running) return running;
    const walk = this.walk(dir).then((figure) => {
      this.figures.set(key, figure);
      return figure;
    });
    this.walks.set(key, walk);
    void walk.finally(() => this.walks.delete(key)).catch(() => undefined);
    return walk;
  }

  private async walk(root: string): Promise<DiskFigure> {
    const maxEntries = this.options.maxEntries ?? 2_000_000;
    let bytes = 0;
    let entries = 0;
    let truncated = false;
    const stack = [root];
    const seenInodes = new Set<string>();
    while (stack.length > 0 && !truncated) {
      const dir = stack.pop() as string;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue; // vanished or unreadable: the game may be deleting files right now
      }
      if (entries + names.length > maxEntries) {
        names = names.slice(0, Math.max(0, maxEntries - entries));
        truncated = true;
      }
      entries += names.length;
      // lstat in bounded batches: one syscall at a time is slow on big trees, unbounded would flood the pool.
      for (let i = 0; i < names.length; i += STAT_BATCH) {
        const stats = await Promise.all(
          names.slice(i, i + STAT_BATCH).map((name) => {
            const p = path.join(dir, name);
            return lstat(p).then(
              (st) => ({ p, st }),
              () => undefined, // raced with a delete
            );
          }),
        );
        for (const entry of stats) {
          if (!entry) continue;
          const { p, st } = entry;
          if (st.isDirectory()) stack.push(p);
          else if (st.nlink > 1) {
            const inode = `${st.dev}:${st.ino}`;
            if (seenInodes.has(inode)) continue;
            seenInodes.add(inode);
          }
          // Allocated blocks, not apparent size: sparse files count for what they hold.
          bytes += st.blocks * 512;
        }
      }
    }
    return { bytes, measuredAt: this.now(), truncated };
  }
}

const STAT_BATCH = 64;
