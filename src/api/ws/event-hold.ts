import type { AgentEvent } from '../../events/bus.js';

/** Events held back while a command is in flight; past this the consumer is too slow and resumes with `since`. */
export const MAX_HELD_EVENTS = 10_000;

/** What to do with an offered event: send it now, it was held for later, or the hold overflowed (close). */
export type HoldVerdict = 'send' | 'held' | 'overflow';

/**
 * Keeps a command's response ahead of the events it caused (PROTOCOL.md §6.3): while any command of the socket is
 * in flight, events wait here, bounded by `max`, and go out once the last response has.
 */
export class EventHold<E = AgentEvent> {
  private inFlight = 0;
  private held: E[] = [];

  constructor(private readonly max = MAX_HELD_EVENTS) {}

  offer(event: E): HoldVerdict {
    if (this.inFlight === 0) return 'send';
    this.held.push(event);
    return this.held.length > this.max ? 'overflow' : 'held';
  }

  /** A command was taken in; events wait until its response is sent. */
  begin(): void {
    this.inFlight++;
  }

  /** A command's response was sent; returns the events to send now (every held one once none is in flight). */
  end(): E[] {
    this.inFlight--;
    if (this.inFlight > 0) return [];
    const held = this.held;
    this.held = [];
    return held;
  }

  clear(): void {
    this.held = [];
  }
}
