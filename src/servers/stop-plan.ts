/**
 * The rungs of the stop ladder (PROTOCOL.md §4.1, §4.6), decided before any is climbed so the decision is a pure,
 * unit-tested function and power.ts only carries it out. Each rung is tried and waited for; if the game is still
 * running after the last one, SIGKILL follows.
 *  1. The spec's stop command (written to stdin), else the spec's stop signal (an egg's `^C` is SIGINT: the egg
 *     knows how its game saves, the panel always sends SIGTERM), else stop_server's signal; wait `timeout`.
 *  2. After a command or the spec's own signal: stop_server's signal, with the shorter grace.
 * A SIGKILL rung is never planned: it is the end of every ladder (and `timeout: 0` goes straight to it).
 */

export type StopRung =
  | { kind: 'command'; command: string; waitMs: number }
  | { kind: 'signal'; signal: string; waitMs: number };

export interface StopPlanInput {
  stopCommand: string | undefined;
  stopSignal: string | undefined;
  /** stop_server's signal and timeout. */
  signal: string;
  timeoutS: number;
  /** The wait after the second rung (config servers.signalGraceMs). */
  graceMs: number;
  /** Whether stdin is attached, so a stop command can be written. */
  canWrite: boolean;
}

export function planStop(input: StopPlanInput): StopRung[] {
  if (input.timeoutS <= 0) return [];
  const timeoutMs = input.timeoutS * 1000;
  const rungs: StopRung[] = [];
  if (input.stopCommand && input.canWrite) {
    rungs.push({ kind: 'command', command: input.stopCommand, waitMs: timeoutMs });
  } else if (input.stopSignal) {
    if (input.stopSignal === 'SIGKILL') return [];
    rungs.push({ kind: 'signal', signal: input.stopSignal, waitMs: timeoutMs });
  }
  const first = rungs[0];
  if (input.signal !== 'SIGKILL' && !(first?.kind === 'signal' && first.signal === input.signal)) {
    rungs.push({ kind: 'signal', signal: input.signal, waitMs: first ? input.graceMs : timeoutMs });
  }
  return rungs;
}
