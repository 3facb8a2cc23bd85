import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyLine } from './log-pretty.js';

/** Fields bound to every line of the root logger (and so of every child). */
export interface LogBindings {
  /** The panel's node id: a fleet's lines are told apart by it once they meet in one log store. */
  nodeId?: string;
}

/**
 * The root logger. Levels are written as names (`"level":"info"`), which every log shipper reads without a
 * mapping table. Secrets are redacted by path so a token can never reach a log line by accident; payloads are
 * never logged by the dispatcher in the first place.
 */
export function createLogger(level: string, destination?: DestinationStream, bindings: LogBindings = {}): Logger {
  return pino(
    {
      level,
      base: { app: 'ctrl-alt-play-agent', ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'token',
          '*.token',
          'apiToken',
          '*.apiToken',
          'password',
          '*.password',
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          'payload.content',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

export interface LogOutputOptions {
  /** Also append the JSON lines to this file; its directory is created (0750) when missing. */
  file?: string | undefined;
  stdout: boolean;
  pretty: 'auto' | 'always' | 'never';
  /** process.stdout.isTTY, passed in so the choice is testable. */
  isTTY: boolean;
}

/** Where the lines go, with the two operations the process needs from it. */
export interface LogOutput {
  stream: DestinationStream;
  /** Reopens the file by name (after logrotate moved it away: SIGHUP). */
  reopen(): void;
  /** Writes out anything buffered (nothing is, with sync destinations: kept for the exit paths' clarity). */
  flushSync(): void;
}

/**
 * Synchronous destinations throughout. pino's default asynchronous stdout reordered and lost the last lines when
 * the process exited (shutdown complete after the exit, a fatal start-up error missing). At the agent's volume (a
 * few lines a second) the cost is noise: bench/log-sync.mjs measured 23-30 µs a line to a file either way, the
 * sync/async difference within run-to-run variation.
 */
export function openLogOutput(options: LogOutputOptions): LogOutput {
  const streams: { write(line: string): void; flushSync?(): void }[] = [];
  let file: ReturnType<typeof pino.destination> | undefined;
  if (options.stdout) {
    const pretty = options.pretty === 'always' || (options.pretty === 'auto' && options.isTTY);
    if (pretty) {
      const out = pino.destination({ fd: 1, sync: true });
      const colour = options.isTTY;
      streams.push({ write: (line) => out.write(prettyLine(line, colour)) });
    } else streams.push(pino.destination({ fd: 1, sync: true }));
  }
  if (options.file) {
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o750 });
    file = pino.destination({ dest: options.file, sync: true, append: true, mode: 0o640 });
    streams.push(file);
  }
  const stream: DestinationStream =
    streams.length === 1
      ? (streams[0] as DestinationStream)
      : {
          write: (line) => {
            for (const s of streams) s.write(line);
          },
        };
  return {
    stream,
    reopen: () => file?.reopen(),
    flushSync: () => {
      for (const s of streams) s.flushSync?.();
    },
  };
}
