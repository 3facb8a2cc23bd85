import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { dataDirLayout } from '../config/data-dir.js';
import type { EventBus } from '../events/bus.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomic-file.js';
import { RingBuffer } from './ring-buffer.js';

/**
 * The output of each server's last install (PROTOCOL.md §4.6, get_install_log), kept in the agent's own data
 * directory (`<dataDir>/install-logs/<id>.json`), never in the server's directory where the tenant could edit it.
 * One JSON file per server holds the times, the exit code and the log, written atomically: at the start (so an
 * install the agent died in shows as unfinished after a restart) and at the end. Only the last `maxBytes` of the
 * output are kept: the end of a log is where an installer says why it failed.
 */

export interface InstallLogRecord {
  /** The install script's exit code; null when no script ran or the install has not finished. */
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  log: string;
  /** Lines dropped from the start of the log to keep it within the byte cap. */
  droppedLines: number;
}

const EMPTY: InstallLogRecord = { exitCode: null, startedAt: null, finishedAt: null, log: '', droppedLines: 0 };

/** install_output batching, as console_output's (PROTOCOL.md §6.2): at most one event per interval. */
const FLUSH_INTERVAL_MS = 50;
const BATCH_MAX_LINES = 100;
const BATCH_MAX_BYTES = 64 * 1024;

export class InstallLogs {
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly maxBytes: number,
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {
    this.dir = dataDirLayout(dataDir).installLogs;
  }

  /** Server ids are checked against the id pattern (no separators, no `..`) before they name a server. */
  private fileFor(serverId: string): string {
    return path.join(this.dir, `${serverId}.json`);
  }

  /** Starts the record of a new install, replacing the previous one. */
  async begin(serverId: string, now = new Date()): Promise<InstallRecorder> {
    // The log is a record of the install, not part of it: a failed write (disk full) is logged, never fatal.
    const recorder = new InstallRecorder(serverId, this.maxBytes, this.bus, now, (record) =>
      writeJsonAtomic(this.fileFor(serverId), record).catch((err) =>
        this.log.warn({ err, serverId }, 'could not write the install log'),
      ),
    );
    await recorder.save();
    return recorder;
  }

  /** The last install's record; an empty one when the server never installed (or its record is unreadable). */
  async read(serverId: string): Promise<InstallLogRecord> {
    try {
      const value = (await readJsonIfExists(this.fileFor(serverId))) as Partial<InstallLogRecord> | undefined;
      if (!value || typeof value !== 'object') return { ...EMPTY };
      return {
        exitCode: typeof value.exitCode === 'number' ? value.exitCode : null,
        startedAt: typeof value.startedAt === 'string' ? value.startedAt : null,
        finishedAt: typeof value.finishedAt === 'string' ? value.finishedAt : null,
        log: typeof value.log === 'string' ? value.log : '',
        droppedLines: typeof value.droppedLines === 'number' ? value.droppedLines : 0,
      };
    } catch (err) {
      this.log.warn({ err, serverId }, 'unreadable install log');
      return { ...EMPTY };
    }
  }

  remove(serverId: string): Promise<void> {
    return rm(this.fileFor(serverId), { force: true });
  }
}

/** One install's output: the bounded tail for the record, and install_output events in batches. */
export class InstallRecorder {
  private readonly lines: RingBuffer<string>;
  private bytes = 0;
  private dropped = 0;
  private exitCode: number | null = null;
  private finishedAt: string | null = null;
  private readonly startedAt: string;
  private batch: string[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly serverId: string,
    private readonly maxBytes: number,
    private readonly bus: EventBus,
    startedAt: Date,
    private readonly write: (record: InstallLogRecord) => Promise<void>,
  ) {
    // Each line costs at least one byte (its newline), so the byte cap also caps the line count; the ring only
    // grows as lines arrive.
    this.lines = new RingBuffer(Math.max(1, maxBytes));
    this.startedAt = startedAt.toISOString();
  }

  append(lines: string[]): void {
    for (const line of lines) {
      const size = Buffer.byteLength(line) + 1;
      this.lines.push(line);
      this.bytes += size;
      while (this.bytes > this.maxBytes && this.lines.size > 0) {
        this.bytes -= Buffer.byteLength(this.lines.shift() ?? '') + 1;
        this.dropped++;
      }
      this.batch.push(line);
      this.batchBytes += size;
      if (this.batch.length >= BATCH_MAX_LINES || this.batchBytes >= BATCH_MAX_BYTES) this.flush();
    }
    if (this.batch.length > 0) this.timer ??= setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  setExitCode(code: number): void {
    this.exitCode = code;
  }

  lastLines(n: number): string[] {
    return this.lines.last(n);
  }

  toRecord(): InstallLogRecord {
    return {
      exitCode: this.exitCode,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      log: this.lines.last(this.lines.size).join('\n'),
      droppedLines: this.dropped,
    };
  }

  save(): Promise<void> {
    return this.write(this.toRecord());
  }

  /** Ends the install: the last events go out and the record is written with its end time. */
  async finish(now = new Date()): Promise<void> {
    this.flush();
    this.finishedAt = now.toISOString();
    await this.save();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.bus.publish('install_output', this.serverId, { lines });
  }
}
