/** A token bucket: `ratePerSecond` sustained, `burst` at once (PROTOCOL.md §6.5: 20/s, burst 50). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type Admission = 'accept' | 'refuse' | 'close';

/**
 * The budget of every inbound frame on one socket: `accept` within the bucket; past it `refuse` (the caller
 * answers RATE_LIMITED), and a second bucket of the same shape counts refusals, so a peer that keeps sending
 * after being refused gets `close`. A client that briefly exceeds its rate only sees errors; a flood is closed
 * after about `burst` refusals instead of costing a refusal frame per frame for ever.
 */
export class FrameBudget {
  private readonly frames: TokenBucket;
  private readonly refusals: TokenBucket;

  constructor(ratePerSecond: number, burst: number, now: () => number = Date.now) {
    this.frames = new TokenBucket(ratePerSecond, burst, now);
    this.refusals = new TokenBucket(ratePerSecond, burst, now);
  }

  admit(): Admission {
    if (this.frames.take()) return 'accept';
    return this.refusals.take() ? 'refuse' : 'close';
  }
}
