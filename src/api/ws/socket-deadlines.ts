import type { AgentConfig } from '../../config/schema.js';
import { CLOSE } from '../../protocol/frames.js';

/** setTimeout's ceiling; a ticket that lives longer is re-checked at this interval. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the deadlines ask of their socket. */
export interface DeadlineHooks {
  /** Whether the socket is still waiting for its first (auth) frame. */
  awaitingAuth(): boolean;
  /** Sends a protocol ping; the peer's pong (or any frame) counts as seen. */
  ping(): void;
  close(code: number, reason: string): void;
}

/**
 * The clocks of one /api/ws socket (PROTOCOL.md §6.5): the auth deadline, liveness (a ping every interval, closed
 * when nothing was heard for idleTimeoutMs) and a ticket's expiry, which closes the socket whether or not the
 * client sends anything. One dispose() stops them all.
 */
export class SocketDeadlines {
  private lastSeen = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    config: Pick<AgentConfig['ws'], 'pingIntervalMs' | 'idleTimeoutMs' | 'authTimeoutMs'>,
    private readonly hooks: DeadlineHooks,
  ) {
    const { idleTimeoutMs } = config;
    this.timers.push(
      setInterval(() => this.heartbeat(idleTimeoutMs), Math.min(config.pingIntervalMs, idleTimeoutMs / 2)),
    );
    this.timers.push(
      setTimeout(() => {
        if (hooks.awaitingAuth()) hooks.close(CLOSE.AUTH_FAILED, 'authentication timeout');
      }, config.authTimeoutMs),
    );
  }

  /** The peer was heard from (a frame, a ping or a pong). */
  seen(): void {
    this.lastSeen = Date.now();
  }

  /** Closes the socket when its ticket expires. */
  watchExpiry(expiresAtMs: number): void {
    const left = expiresAtMs - Date.now();
    if (left <= 0) {
      this.hooks.close(CLOSE.AUTH_FAILED, 'ticket expired');
      return;
    }
    this.expiry = setTimeout(() => this.watchExpiry(expiresAtMs), Math.min(left, MAX_TIMER_MS));
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    clearTimeout(this.expiry);
  }

  private heartbeat(idleTimeoutMs: number): void {
    if (Date.now() - this.lastSeen > idleTimeoutMs) {
      this.hooks.close(CLOSE.LIVENESS_TIMEOUT, 'liveness timeout');
      return;
    }
    this.hooks.ping();
  }
}
