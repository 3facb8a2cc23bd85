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

  constructor(
    private readonly options: {
      /** The walk itself (files/disk-measure.ts: the sandbox's no-follow walker), passed in from main. */
      measure: (dir: string, maxEntries: number) => Promise<{ bytes: number; truncated: boolean }>;
      maxAgeMs?: number;
      maxEntries?: number;
      now?: () => number;
    },
  ) {}

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
    const { bytes, truncated } = await this.options.measure(root, this.options.maxEntries ?? 2_000_000);
    return { bytes, measuredAt: this.now(), truncated };
  }
}
