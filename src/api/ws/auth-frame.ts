import { AgentError } from '../../errors.js';
import { CLOSE, type Frame } from '../../protocol/frames.js';
import type { TicketClaims, TicketSigner } from '../../protocol/tickets.js';

export type Principal = { kind: 'node' } | { kind: 'ticket'; claims: TicketClaims };

/** The per-address limiter that HTTP 401s feed (AuthFailureLimiter), so both transports share one budget. */
export interface AuthFailures {
  isBlocked(address: string): boolean;
  recordFailure(address: string): void;
}

export interface AuthFrameDeps {
  matchesToken: (token: string | undefined) => boolean;
  tickets: Pick<TicketSigner, 'verify'>;
  authFailures: AuthFailures;
  address: string;
}

export type AuthOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; error: AgentError; closeCode: number; closeReason: string };

/**
 * Judges the first frame of a socket that upgraded without credentials (PROTOCOL.md §6.5): the node token or a
 * ticket. A failure counts against the address exactly as an HTTP 401 does, and an address already over the limit
 * is refused before its token is even compared, as HTTP refuses it with 429.
 */
export function judgeAuthFrame(frame: Frame, deps: AuthFrameDeps): AuthOutcome {
  if (deps.authFailures.isBlocked(deps.address)) {
    return {
      ok: false,
      error: new AgentError('RATE_LIMITED', 'too many failed authentications; retry later'),
      closeCode: CLOSE.RATE_LIMITED,
      closeReason: 'too many failed authentications',
    };
  }
  if (frame.type !== 'auth') {
    deps.authFailures.recordFailure(deps.address);
    return {
      ok: false,
      error: new AgentError('AUTH_FAILED', 'authenticate first: the first frame must be {type:"auth"}'),
      closeCode: CLOSE.AUTH_FAILED,
      closeReason: 'authenticate first',
    };
  }
  const token = typeof frame.token === 'string' ? frame.token : undefined;
  const ticket = typeof frame.ticket === 'string' ? frame.ticket : token;
  if (deps.matchesToken(token)) return { ok: true, principal: { kind: 'node' } };
  const claims = ticket ? deps.tickets.verify(ticket) : undefined;
  if (claims) return { ok: true, principal: { kind: 'ticket', claims } };
  deps.authFailures.recordFailure(deps.address);
  return {
    ok: false,
    error: new AgentError('AUTH_FAILED', 'invalid token or ticket'),
    closeCode: CLOSE.AUTH_FAILED,
    closeReason: 'authentication failed',
  };
}
