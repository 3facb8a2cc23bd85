import { stripVTControlCharacters } from 'node:util';
import { RingBuffer } from './ring-buffer.js';

/**
 * What SteamCMD printed, judged line by line. SteamCMD's exit code is not enough: it exits 0 after
 * `ERROR! Download item 666 failed (Failure).` and after a login that failed, then `+quit` runs as if nothing
 * happened. Public wrappers (workshop downloaders, LinuxGSM) read the output for these lines; so do we:
 *
 *  - `ERROR! …` / `Error! …`: a failed workshop item (`Download item … failed (…)`, `Timeout downloading item …`),
 *    a failed app install (`Failed to install app '740' (No subscription)`, `App '740' state is 0x202 after
 *    update job.`);
 *  - `…FAILED` at the end of a step (`Logging in user 'anonymous' to Steam Public...FAILED (No Connection)`) or a
 *    line that starts with `FAILED` (`FAILED login with result code …`), and `Login Failure: …`.
 *
 * Warnings (`WARNING: …`, `Redirecting stderr to …`) are not failures. Every line is scanned, but only
 * `maxBytes` of them are shown (console, install log): progress redraws make a big download thousands of lines.
 */

const FAILURE_LINE = [/^error!\s/i, /\.\.\.\s*FAILED\b/, /^FAILED\b/, /^Login Failure\b/i];
/** A reason is one line of a human message, not a copy of whatever a peer printed. */
const MAX_REASON_CHARS = 300;
/** Lines kept for a failure's reason (lastError, the install log's record), whatever was shown. */
const TAIL_LINES = 20;

/** The first failure line in `line`, cleaned of colour codes, or undefined. Pure; unit-tested. */
export function steamCmdFailureLine(line: string): string | undefined {
  const clean = stripVTControlCharacters(line).trim();
  return FAILURE_LINE.some((re) => re.test(clean)) ? clean.slice(0, MAX_REASON_CHARS) : undefined;
}

export class SteamCmdOutput {
  private shownBytes = 0;
  private hidden = 0;
  private readonly tail = new RingBuffer<string>(TAIL_LINES);
  /** The first failure line SteamCMD printed, if any. */
  failure: string | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly show: (lines: string[]) => void,
  ) {}

  push(lines: string[]): void {
    const shown: string[] = [];
    for (const line of lines) {
      this.failure ??= steamCmdFailureLine(line);
      if (line.trim() !== '') this.tail.push(line.slice(0, MAX_REASON_CHARS));
      const size = Buffer.byteLength(line) + 1;
      if (this.shownBytes + size > this.maxBytes) {
        this.hidden++;
        continue;
      }
      this.shownBytes += size;
      shown.push(line);
    }
    if (shown.length > 0) this.show(shown);
  }

  /** Says once, at the end, how much was not shown. */
  finish(): void {
    if (this.hidden > 0) {
      this.show([
        `[agent] ${this.hidden} more SteamCMD line(s) past ${this.maxBytes} bytes not shown (steam.maxOutputBytes)`,
      ]);
    }
  }

  lastLines(): string[] {
    return this.tail.last(this.tail.size);
  }
}
