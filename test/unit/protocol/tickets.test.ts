import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/api/ws/rate-limiter.js';
import { TicketSigner } from '../../../src/protocol/tickets.js';

describe('TicketSigner', () => {
  it('verifies its own tickets until they expire', () => {
    let now = 1_000_000;
    const signer = new TicketSigner('node-token', () => now);
    const { ticket, expiresAt } = signer.mint('srv1', ['console.read'], 60);
    expect(signer.verify(ticket)).toEqual({ sid: 'srv1', perms: ['console.read'], exp: 1060 });
    expect(expiresAt).toBe(new Date(1_060_000).toISOString());
    now += 59_000;
    expect(signer.verify(ticket)).toBeDefined();
    now += 1_000;
    expect(signer.verify(ticket)).toBeUndefined();
  });

  it('refuses tickets from another token, edited claims and garbage', () => {
    const signer = new TicketSigner('node-token');
    const { ticket } = signer.mint('srv1', ['console.read'], 60);
    expect(new TicketSigner('rotated-token').verify(ticket)).toBeUndefined();
    const [, sig] = ticket.split('.');
    const forged = Buffer.from(JSON.stringify({ sid: 'srv1', perms: ['power'], exp: 9e9 })).toString('base64url');
    expect(signer.verify(`${forged}.${sig}`)).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (junk) => {
        expect(signer.verify(junk)).toBeUndefined();
      }),
    );
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket(20, 50, () => now);
    let taken = 0;
    for (let i = 0; i < 100; i++) if (bucket.take()) taken++;
    expect(taken).toBe(50);
    now += 1000;
    taken = 0;
    for (let i = 0; i < 100; i++) if (bucket.take()) taken++;
    expect(taken).toBe(20);
  });
});
