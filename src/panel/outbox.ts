import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { dataDirLayout } from '../config/data-dir.js';
import type { AgentEvent } from '../events/bus.js';

/**
 * The persisted outbox of events bound for the panel (PROTOCOL.md §6.3): an append-only JSON-lines file in the
 * data directory, so an agent restart during a panel outage keeps its epoch, continues its seq and can still
 * replay what the panel missed. Bounded: at boot only the newest `maxEvents` are kept, and the file is rewritten
 * (compacted) whenever it holds twice that. Appends are batched so a console flood costs one write per tick.
 */
export interface OutboxState {
  epoch: string;
  seq: number;
  events: AgentEvent[];
}

export class Outbox {
  private readonly file: string;
  private pending: string[] = [];
  private lines = 0;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    dataDir: string,
    private readonly maxEvents: number,
    private readonly log: Logger,
  ) {
    this.file = dataDirLayout(dataDir).panelOutbox;
  }

  /** The persisted epoch, last seq and newest events, or undefined when there is no (readable) outbox. */
  async load(): Promise<OutboxState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.error({ err }, 'outbox unreadable; starting a new epoch');
      return undefined;
    }
    const rows = text.split('\n').filter(Boolean);
    const header = rows.shift();
    let epoch: string | undefined;
    try {
      epoch = (JSON.parse(header ?? '{}') as { epoch?: string }).epoch;
    } catch {
      epoch = undefined;
    }
    if (!epoch) return undefined;
    const parsed: AgentEvent[] = [];
    for (const row of rows) {
      try {
        parsed.push(JSON.parse(row) as AgentEvent);
      } catch {
        // a line torn by a crash mid-append: the events before it are still good
      }
    }
    const events = parsed.slice(-this.maxEvents);
    const seq = events.at(-1)?.seq ?? 0;
    return { epoch, seq, events };
  }

  /** Starts a fresh file for this epoch with the events carried over. */
  async reset(epoch: string, events: AgentEvent[]): Promise<void> {
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, [JSON.stringify({ epoch }), ...events.map((e) => JSON.stringify(e)), ''].join('\n'), {
      mode: 0o600,
    });
    await rename(tmp, this.file);
    this.lines = events.length;
  }

  append(event: AgentEvent, snapshot: () => { epoch: string; events: AgentEvent[] }): void {
    if (event.seq === undefined) return; // ephemeral: never replayed, never persisted
    this.pending.push(JSON.stringify(event));
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush(snapshot);
    }, 100);
  }

  /** Writes what is pending; compacts when the file holds twice the bound. */
  flush(snapshot?: () => { epoch: string; events: AgentEvent[] }): Promise<void> {
    this.writing = this.writing.then(async () => {
      const batch = this.pending;
      this.pending = [];
      if (batch.length === 0) return;
      try {
        if (snapshot && this.lines + batch.length > this.maxEvents * 2) {
          const { epoch, events } = snapshot();
          await this.reset(epoch, events);
        } else {
          await appendFile(this.file, `${batch.join('\n')}\n`);
          this.lines += batch.length;
        }
      } catch (err) {
        this.log.error({ err }, 'could not persist the outbox');
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
