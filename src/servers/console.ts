import type { Duplex } from 'node:stream';
import type { EventBus } from '../events/bus.js';
import { LineSplitter } from './line-splitter.js';
import { RingBuffer } from './ring-buffer.js';

export type ConsoleStream = 'output' | 'install' | 'agent';

export interface ConsoleOptions {
  serverId: string;
  bus: EventBus;
  historyLines: number;
  now?: () => Date;
  /** Batching of console_output events (PROTOCOL.md §6.2). */
  flushIntervalMs?: number;
  /** Above this many output lines per second, extra lines reach the history but not events. */
  floodLinesPerSecond?: number;
  /** The history's size cap in characters, besides its line cap. */
  historyBytes?: number;
  /** Output read from the container per second at most; beyond it the container waits (back-pressure). */
  maxBytesPerSecond?: number;
  maxBatchLines?: number;
  maxBatchBytes?: number;
}

/**
 * One server's console: the history ring buffer, the attach stream to the running container, and batching of
 * console_output events. Lines always reach the history; events are batched per stream.
 */
export class ServerConsole {
  private readonly history: RingBuffer<string>;
  private readonly bus: EventBus;
  private readonly serverId: string;
  private readonly now: () => Date;
  private stream: Duplex | undefined;
  private splitter = new LineSplitter();
  private lastActivityAt: Date | undefined;
  private batch: { stream: ConsoleStream; lines: string[]; bytes: number } | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private floodTimer: NodeJS.Timeout | undefined;
  private readonly flushIntervalMs: number;
  private readonly maxBatchLines: number;
  private readonly maxBatchBytes: number;
  private readonly lineListeners = new Set<(lines: string[]) => void>();
  private readonly floodLimit: number;
  private readonly maxBytesPerSecond: number;
  private readonly maxHistoryBytes: number;
  private historyBytes = 0;
  private floodWindowStart = 0;
  private floodWindowLines = 0;
  private floodDropped = 0;
  /** Lines kept out of events by the flood limit since the console was created. */
  droppedTotal = 0;

  constructor(options: ConsoleOptions) {
    this.serverId = options.serverId;
    this.bus = options.bus;
    this.history = new RingBuffer(options.historyLines);
    this.now = options.now ?? (() => new Date());
    // 40 ms rather than the 50 ms ceiling of PROTOCOL.md §6.2: a line waits at most this long in a batch, and the
    // p99 stdout-to-client latency target is 50 ms (bench/realtime.mjs).
    this.flushIntervalMs = options.flushIntervalMs ?? 40;
    this.maxBatchLines = options.maxBatchLines ?? 100;
    this.maxBatchBytes = options.maxBatchBytes ?? 64 * 1024;
    this.floodLimit = options.floodLinesPerSecond ?? 5000;
    this.maxBytesPerSecond = options.maxBytesPerSecond ?? 4 * 1024 * 1024;
    this.maxHistoryBytes = options.historyBytes ?? 8 * 1024 * 1024;
  }

  get attached(): boolean {
    return this.stream !== undefined && !this.stream.destroyed;
  }

  get lastActivity(): Date | undefined {
    return this.lastActivityAt;
  }

  get size(): number {
    return this.history.size;
  }

  get capacity(): number {
    return this.history.capacity;
  }

  /** Takes ownership of an attach stream; output is read until it ends. Replaces any previous stream. */
  attach(stream: Duplex): void {
    this.detach();
    this.stream = stream;
    this.splitter = new LineSplitter();
    let windowStart = 0;
    let windowBytes = 0;
    stream.on('data', (chunk: Buffer) => {
      this.append('output', this.splitter.push(chunk));
      // Back-pressure instead of unbounded work: after each chunk the stream pauses until the event loop has
      // served everyone else (setImmediate), and past the byte budget until the second is over. A flooding game
      // then blocks on its own TTY writes; the agent and the other servers stay responsive.
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        windowBytes = 0;
      }
      windowBytes += chunk.length;
      stream.pause();
      const resume = () => {
        if (this.stream === stream) stream.resume();
      };
      if (windowBytes > this.maxBytesPerSecond) setTimeout(resume, 1000 - (now - windowStart));
      else setImmediate(resume);
    });
    const finish = () => {
      if (this.stream !== stream) return;
      this.append('output', this.splitter.flush());
      this.stream = undefined;
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  }

  detach(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.destroy();
  }

  /** Writes raw bytes to the process's stdin; false when not attached. */
  write(input: string): boolean {
    const stream = this.stream;
    if (!stream || stream.destroyed || !stream.writable) return false;
    stream.write(input);
    this.lastActivityAt = this.now();
    return true;
  }

  /** Adds lines that did not come from the process (install output, agent notices, log tail on reattach). */
  append(stream: ConsoleStream, lines: string[]): void {
    if (lines.length === 0) return;
    const stored = stream === 'agent' ? lines.map((l) => `[agent] ${l}`) : lines;
    for (const line of stored) this.remember(line);
    this.lastActivityAt = this.now();
    if (stream === 'output') for (const listener of this.lineListeners) listener(stored);
    this.queue(stream, stream === 'output' ? this.throttle(stored) : stored);
  }

  /**
   * The flood limit (PROTOCOL.md §6.2): per one-second window at most `floodLimit` output lines become events;
   * the rest stay in the history only, and one daemon_message per window reports how many were held back.
   */
  private throttle(lines: string[]): string[] {
    const now = this.now().getTime();
    if (now - this.floodWindowStart >= 1000) {
      this.reportDropped();
      this.floodWindowStart = now;
      this.floodWindowLines = 0;
    }
    const room = Math.max(0, this.floodLimit - this.floodWindowLines);
    this.floodWindowLines += lines.length;
    if (lines.length <= room) return lines;
    const dropped = lines.length - room;
    this.floodDropped += dropped;
    this.droppedTotal += dropped;
    this.floodTimer ??= setTimeout(() => {
      this.floodTimer = undefined;
      this.reportDropped();
    }, 1000);
    return room === 0 ? [] : lines.slice(0, room);
  }

  private reportDropped(): void {
    if (this.floodDropped === 0) return;
    const count = this.floodDropped;
    this.floodDropped = 0;
    this.bus.publish('daemon_message', this.serverId, {
      level: 'warning',
      message: `output flood: ${count} lines in the last second were kept in the history but not streamed`,
      droppedLines: count,
    });
  }

  /** Fills the history from text (the container's log tail) without emitting events. */
  preload(text: Buffer): void {
    const splitter = new LineSplitter();
    for (const line of [...splitter.push(text), ...splitter.flush()]) this.remember(line);
  }

  /** Calls `listener` with each new batch of process output; returns the unsubscribe function. */
  onLines(listener: (lines: string[]) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  lines(n: number): string[] {
    return this.history.last(n);
  }

  /** Adds a line to the history, which is bounded by lines (the ring) and by bytes (oldest dropped). */
  private remember(line: string): void {
    const evicted = this.history.push(line);
    this.historyBytes += line.length - (evicted?.length ?? 0);
    while (this.historyBytes > this.maxHistoryBytes && this.history.size > 1) {
      this.historyBytes -= this.history.shift()?.length ?? 0;
    }
  }

  clear(): void {
    this.historyBytes = 0;
    this.history.clear();
  }

  resize(lines: number): void {
    this.history.resize(lines);
    this.historyBytes = this.history.last(lines).reduce((n, l) => n + l.length, 0);
  }

  close(): void {
    clearTimeout(this.floodTimer);
    this.floodTimer = undefined;
    this.flush();
    this.detach();
  }

  private queue(stream: ConsoleStream, lines: string[]): void {
    if (this.batch && this.batch.stream !== stream) this.flush();
    this.batch ??= { stream, lines: [], bytes: 0 };
    for (const line of lines) {
      this.batch.lines.push(line);
      this.batch.bytes += line.length;
      if (this.batch.lines.length >= this.maxBatchLines || this.batch.bytes >= this.maxBatchBytes) {
        this.flush();
        this.batch = { stream, lines: [], bytes: 0 };
      }
    }
    if (this.batch.lines.length === 0) {
      this.batch = undefined;
      return;
    }
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.batch;
    this.batch = undefined;
    if (!batch || batch.lines.length === 0) return;
    this.bus.publish('console_output', this.serverId, { stream: batch.stream, lines: batch.lines });
  }
}
