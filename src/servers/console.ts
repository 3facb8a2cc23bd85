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
  private readonly flushIntervalMs: number;
  private readonly maxBatchLines: number;
  private readonly maxBatchBytes: number;
  private readonly lineListeners = new Set<(lines: string[]) => void>();

  constructor(options: ConsoleOptions) {
    this.serverId = options.serverId;
    this.bus = options.bus;
    this.history = new RingBuffer(options.historyLines);
    this.now = options.now ?? (() => new Date());
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.maxBatchLines = options.maxBatchLines ?? 100;
    this.maxBatchBytes = options.maxBatchBytes ?? 64 * 1024;
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
    stream.on('data', (chunk: Buffer) => this.append('output', this.splitter.push(chunk)));
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
    for (const line of stored) this.history.push(line);
    this.lastActivityAt = this.now();
    if (stream === 'output') for (const listener of this.lineListeners) listener(stored);
    this.queue(stream, stored);
  }

  /** Fills the history from text (the container's log tail) without emitting events. */
  preload(text: Buffer): void {
    const splitter = new LineSplitter();
    for (const line of [...splitter.push(text), ...splitter.flush()]) this.history.push(line);
  }

  /** Calls `listener` with each new batch of process output; returns the unsubscribe function. */
  onLines(listener: (lines: string[]) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  lines(n: number): string[] {
    return this.history.last(n);
  }

  clear(): void {
    this.history.clear();
  }

  resize(lines: number): void {
    this.history.resize(lines);
  }

  close(): void {
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
