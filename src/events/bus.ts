import { randomBytes } from 'node:crypto';
import type { AgentEvent, EventName } from '../protocol/events.js';

export { type AgentEvent, EVENT_NAMES, type EventName } from '../protocol/events.js';

/** Ephemeral events get no seq and are never replayed. */
const EPHEMERAL: ReadonlySet<EventName> = new Set(['resource_update']);

export type EventListener = (event: AgentEvent) => void;

export interface EventBusOptions {
  epoch?: string;
  /** The seq to continue from (a persisted outbox's last seq). */
  startSeq?: number;
  maxEvents?: number;
  maxBytes?: number;
  now?: () => Date;
  /** Events carried over from a persisted outbox, oldest first; they stay replayable. */
  preload?: AgentEvent[];
}

/**
 * One agent-wide sequence of events with a bounded replay buffer (PROTOCOL.md §6.3). Bounded by count and by
 * bytes: the oldest events are dropped first, and `oldestSeq` tells a resuming client whether it is too late.
 */
export class EventBus {
  readonly epoch: string;
  private seq: number;
  private readonly buffer: { event: AgentEvent; bytes: number }[] = [];
  private head = 0;
  private bytes = 0;
  private readonly listeners = new Set<EventListener>();
  /** One counter per server id; bounded by the number of servers ever seen by this process. */
  private readonly serverSeqs = new Map<string, number>();
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly now: () => Date;

  constructor(options: EventBusOptions = {}) {
    this.epoch = options.epoch ?? randomBytes(8).toString('hex');
    this.seq = options.startSeq ?? 0;
    this.maxEvents = options.maxEvents ?? 10_000;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.now = options.now ?? (() => new Date());
    for (const event of options.preload ?? [])
      if (event.seq !== undefined && event.seq <= this.seq) this.remember(event);
  }

  /** The replayable events, oldest first (for compacting the persisted outbox). */
  buffered(): AgentEvent[] {
    return this.buffer.slice(this.head).map((entry) => entry.event);
  }

  get currentSeq(): number {
    return this.seq;
  }

  /** The seq of the oldest event still replayable (currentSeq + 1 when the buffer is empty). */
  get oldestSeq(): number {
    return this.buffer[this.head]?.event.seq ?? this.seq + 1;
  }

  publish(event: EventName, serverId: string | undefined, data: Record<string, unknown>): AgentEvent {
    const out: AgentEvent = {
      event,
      timestamp: this.now().toISOString(),
      ...(serverId === undefined ? {} : { serverId }),
      data: serverId === undefined ? data : { serverId, ...data },
    };
    if (!EPHEMERAL.has(event)) {
      out.seq = ++this.seq;
      if (serverId !== undefined) {
        const next = (this.serverSeqs.get(serverId) ?? 0) + 1;
        this.serverSeqs.set(serverId, next);
        out.serverSeq = next;
      }
      this.remember(out);
    }
    for (const listener of this.listeners) listener(out);
    return out;
  }

  /** Forgets a deleted server's counter. */
  forgetServer(serverId: string): void {
    this.serverSeqs.delete(serverId);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events with seq > afterSeq, oldest first; undefined when some of them were already dropped. */
  replaySince(afterSeq: number): AgentEvent[] | undefined {
    if (afterSeq < this.oldestSeq - 1 || afterSeq > this.seq) return undefined;
    const out: AgentEvent[] = [];
    for (let i = this.head; i < this.buffer.length; i++) {
      const entry = this.buffer[i] as { event: AgentEvent };
      if ((entry.event.seq ?? 0) > afterSeq) out.push(entry.event);
    }
    return out;
  }

  private remember(event: AgentEvent): void {
    const bytes = Buffer.byteLength(JSON.stringify(event));
    this.buffer.push({ event, bytes });
    this.bytes += bytes;
    while (this.buffer.length - this.head > this.maxEvents || this.bytes > this.maxBytes) {
      const dropped = this.buffer[this.head++];
      this.bytes -= dropped?.bytes ?? 0;
    }
    // Compact lazily so dropping stays O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer.splice(0, this.head);
      this.head = 0;
    }
  }
}
