import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { dataDirLayout } from '../config/data-dir.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';

/**
 * Calls to the panel's workshop webhook (PROTOCOL.md §4.3) go through a persisted outbox: 2xx is done, 400 is
 * logged and dropped, anything else is retried with back-off (1 s doubling to 5 min) for up to 24 h, across
 * agent restarts. Bounded: past `maxEntries` the oldest is dropped with an error log.
 */
interface Entry {
  id: string;
  body: Record<string, unknown>;
  attempts: number;
  nextAt: number;
  createdAt: number;
}

const MAX_AGE_MS = 24 * 3600_000;
const MAX_DELAY_MS = 5 * 60_000;

export class WebhookOutbox {
  private entries: Entry[] = [];
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    dataDir: string,
    private readonly url: string,
    private readonly userAgent: string,
    private readonly log: Logger,
    private readonly maxEntries = 10_000,
  ) {
    this.file = dataDirLayout(dataDir).webhookOutbox;
  }

  async start(): Promise<void> {
    const saved = await readJsonIfExists(this.file).catch(() => undefined);
    if (Array.isArray(saved)) this.entries = saved as Entry[];
    this.timer = setInterval(() => void this.drain(), 1000);
    this.timer.unref();
    void this.drain();
  }

  async enqueue(body: Record<string, unknown>): Promise<void> {
    this.entries.push({
      id: randomBytes(8).toString('hex'),
      body,
      attempts: 0,
      nextAt: Date.now(),
      createdAt: Date.now(),
    });
    while (this.entries.length > this.maxEntries) {
      const dropped = this.entries.shift();
      this.log.error({ body: dropped?.body }, 'webhook outbox full; dropped the oldest call');
    }
    await this.save();
    void this.drain();
  }

  private save(): Promise<void> {
    return writeJsonAtomic(this.file, this.entries);
  }

  async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      let changed = false;
      for (const entry of [...this.entries]) {
        if (entry.nextAt > now) continue;
        const outcome = await this.deliver(entry);
        if (outcome === 'retry' && now - entry.createdAt < MAX_AGE_MS) {
          entry.attempts++;
          entry.nextAt = Date.now() + Math.min(MAX_DELAY_MS, 1000 * 2 ** (entry.attempts - 1));
        } else {
          if (outcome === 'retry') this.log.error({ body: entry.body }, 'webhook undeliverable for 24 h; dropped');
          this.entries = this.entries.filter((e) => e !== entry);
        }
        changed = true;
      }
      if (changed) await this.save();
    } finally {
      this.busy = false;
    }
  }

  private async deliver(entry: Entry): Promise<'done' | 'retry'> {
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': this.userAgent },
        body: JSON.stringify(entry.body),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return 'done';
      if (res.status === 400) {
        this.log.warn(
          { body: entry.body, answer: await res.text().catch(() => '') },
          'the panel refused a webhook call',
        );
        return 'done';
      }
      return 'retry';
    } catch {
      return 'retry';
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get size(): number {
    return this.entries.length;
  }
}
