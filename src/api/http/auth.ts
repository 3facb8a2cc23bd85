import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time token check over SHA-256 digests, so neither content nor length leaks through timing. */
export function tokenMatcher(expected: string): (candidate: string | undefined) => boolean {
  const expectedDigest = createHash('sha256').update(expected).digest();
  return (candidate) => {
    if (!candidate) return false;
    return timingSafeEqual(createHash('sha256').update(candidate).digest(), expectedDigest);
  };
}

/** The token from `Authorization: Bearer …` (scheme case-insensitive) or `X-API-Key`. */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const key = headers['x-api-key'];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

/**
 * Counts failed authentications per address in a sliding minute; past the limit the address is blocked for a
 * minute. The table is bounded: when full, the entry that expires first makes room.
 */
export class AuthFailureLimiter {
  private readonly entries = new Map<string, { failures: number[]; blockedUntil: number }>();

  constructor(
    private readonly maxPerMinute: number,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  isBlocked(address: string): boolean {
    const entry = this.entries.get(address);
    return entry !== undefined && entry.blockedUntil > this.now();
  }

  recordFailure(address: string): void {
    const now = this.now();
    let entry = this.entries.get(address);
    if (!entry) {
      if (this.entries.size >= this.maxAddresses) this.evictOne(now);
      entry = { failures: [], blockedUntil: 0 };
      this.entries.set(address, entry);
    }
    entry.failures = entry.failures.filter((t) => now - t < 60_000);
    entry.failures.push(now);
    if (entry.failures.length > this.maxPerMinute) {
      entry.blockedUntil = now + 60_000;
      entry.failures = [];
    }
  }

  private evictOne(now: number): void {
    for (const [address, entry] of this.entries) {
      if (entry.blockedUntil <= now) {
        this.entries.delete(address);
        return;
      }
    }
    const first = this.entries.keys().next();
    if (!first.done) this.entries.delete(first.value);
  }
}

/**
 * The node token as a value that can change while the agent runs. Everything that authenticates with it (the
 * HTTP hook, /api/ws auth frames, the ticket key) asks `matches`/`current` on each use instead of capturing the
 * string once, and whoever owns a long-lived session (the WebSocket hub) listens to `onRotate` to end the
 * sessions the old token opened.
 */
export class NodeToken {
  private value: string;
  private matcher: (candidate: string | undefined) => boolean;
  private readonly listeners = new Set<() => void>();

  constructor(token: string) {
    this.value = token;
    this.matcher = tokenMatcher(token);
  }

  current(): string {
    return this.value;
  }

  matches(candidate: string | undefined): boolean {
    return this.matcher(candidate);
  }

  /** Replaces the token; listeners run synchronously, so no request is accepted with the old one afterwards. */
  rotate(next: string): void {
    if (next.length === 0) throw new Error('the node token must not be empty');
    this.value = next;
    this.matcher = tokenMatcher(next);
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` after every rotation; returns the unsubscribe function. */
  onRotate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
