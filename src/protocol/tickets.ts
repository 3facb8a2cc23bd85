import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived, per-server tickets the panel mints (create_ws_ticket) and hands to a browser, so a browser can
 * open /api/ws without ever seeing the node token. A ticket is `base64url(JSON claims).base64url(HMAC)`, keyed
 * by a key derived from the node token: rotating the token revokes every ticket.
 */
export const TICKET_PERMISSIONS = ['console.read', 'console.command', 'power'] as const;
export type TicketPermission = (typeof TICKET_PERMISSIONS)[number];

export interface TicketClaims {
  /** Canonical server id. */
  sid: string;
  perms: TicketPermission[];
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class TicketSigner {
  private readonly token: { current(): string };
  private keyFor: { token: string; key: Buffer } | undefined;

  /** `nodeToken` may be a rotating token (NodeToken): tickets then follow it, and a rotation revokes them all. */
  constructor(
    nodeToken: string | { current(): string },
    private readonly now: () => number = Date.now,
  ) {
    this.token = typeof nodeToken === 'string' ? { current: () => nodeToken } : nodeToken;
  }

  private sign(body: string): Buffer {
    const token = this.token.current();
    if (this.keyFor?.token !== token) {
      this.keyFor = { token, key: createHmac('sha256', token).update('ctrl-alt-play ws ticket v1').digest() };
    }
    return createHmac('sha256', this.keyFor.key).update(body).digest();
  }

  mint(serverId: string, perms: TicketPermission[], ttlSeconds: number): { ticket: string; expiresAt: string } {
    const exp = Math.floor(this.now() / 1000) + ttlSeconds;
    const body = Buffer.from(JSON.stringify({ sid: serverId, perms, exp } satisfies TicketClaims)).toString(
      'base64url',
    );
    return {
      ticket: `${body}.${this.sign(body).toString('base64url')}`,
      expiresAt: new Date(exp * 1000).toISOString(),
    };
  }

  /** The claims of a valid, unexpired ticket, else undefined. */
  verify(ticket: string): TicketClaims | undefined {
    const [body, sig, extra] = ticket.split('.');
    if (!body || !sig || extra !== undefined || ticket.length > 2048) return undefined;
    const expected = this.sign(body);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TicketClaims;
      if (typeof claims.sid !== 'string' || !Array.isArray(claims.perms) || typeof claims.exp !== 'number')
        return undefined;
      if (claims.exp * 1000 <= this.now()) return undefined;
      return claims;
    } catch {
      return undefined;
    }
  }
}
