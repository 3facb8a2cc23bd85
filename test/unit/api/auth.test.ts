import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter, tokenFromHeaders, tokenMatcher } from '../../../src/api/http/auth.js';

describe('token auth', () => {
  it('matches only the exact token', () => {
    const matches = tokenMatcher('s3cret-token');
    expect(matches('s3cret-token')).toBe(true);
    expect(matches('s3cret-tokeN')).toBe(false);
    expect(matches('s3cret-token ')).toBe(false);
    expect(matches('')).toBe(false);
    expect(matches(undefined)).toBe(false);
  });

  it('reads Bearer case-insensitively and X-API-Key', () => {
    expect(tokenFromHeaders({ authorization: 'Bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'bearer abc' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'BEARER   abc  ' })).toBe('abc');
    expect(tokenFromHeaders({ authorization: 'Basic abc' })).toBeUndefined();
    expect(tokenFromHeaders({ 'x-api-key': 'k' })).toBe('k');
  });
});

describe('AuthFailureLimiter', () => {
  it('blocks an address after more than the limit in a minute, for a minute', () => {
    let now = 0;
    const limiter = new AuthFailureLimiter(10, 100, () => now);
    for (let i = 0; i < 10; i++) limiter.recordFailure('1.2.3.4');
    expect(limiter.isBlocked('1.2.3.4')).toBe(false);
    limiter.recordFailure('1.2.3.4');
    expect(limiter.isBlocked('1.2.3.4')).toBe(true);
    expect(limiter.isBlocked('5.6.7.8')).toBe(false);
    now += 61_000;
    expect(limiter.isBlocked('1.2.3.4')).toBe(false);
  });

  it('forgets failures older than a minute', () => {
    let now = 0;
    const limiter = new AuthFailureLimiter(2, 100, () => now);
    limiter.recordFailure('a');
    limiter.recordFailure('a');
    now += 60_001;
    limiter.recordFailure('a');
    expect(limiter.isBlocked('a')).toBe(false);
  });

  it('keeps its table bounded', () => {
    const limiter = new AuthFailureLimiter(10, 50);
    for (let i = 0; i < 1000; i++) limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect((limiter as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(50);
  });
});
