import type { WebSocket } from 'ws';
import type { EventBus } from '../../events/bus.js';
import { CLOSE } from '../../protocol/frames.js';
import type { Principal } from './auth-frame.js';
import { type ConnectionDeps, type Seat, type SocketContext, WsConnection } from './connection.js';

/**
 * Every open /api/ws socket, in two pools with caps of their own: sockets waiting for their auth frame
 * (`ws.maxUnauthenticated`, oldest evicted when full) and authenticated ones (`ws.maxConnections`, new ones refused
 * when full), so idle unauthenticated sockets can never take a real client's place. Also the per-server ticket
 * slots, event fan-out from the bus, and the end of every session when the node token changes.
 */
export class WsHub {
  private readonly waiting = new Set<WsConnection>();
  private readonly authenticated = new Set<WsConnection>();
  /** The server slot each ticket socket holds. */
  private readonly slots = new Map<WsConnection, string>();
  private readonly perServer = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly seat: Seat;

  constructor(
    private readonly deps: ConnectionDeps,
    bus: EventBus,
  ) {
    this.unsubscribe = bus.subscribe((event) => {
      for (const conn of this.authenticated) conn.deliver(event);
    });
    this.seat = {
      authenticated: (conn, principal) => this.admit(conn, principal),
      closed: (conn) => this.release(conn),
    };
  }

  /** Authenticated sockets. */
  get size(): number {
    return this.authenticated.size;
  }

  get waitingCount(): number {
    return this.waiting.size;
  }

  /** The ws maxPayload: the largest frame any socket may send before it authenticates. */
  get preAuthFrameBytes(): number {
    return this.deps.config.maxPreAuthFrameBytes;
  }

  accept(socket: WebSocket, principal: Principal | undefined, context: SocketContext): void {
    const conn = new WsConnection(socket, this.deps, context, this.seat);
    if (principal) {
      conn.authenticate(principal);
      return;
    }
    // Evicting the oldest rather than refusing the newest: a flood then has to outpace a real client's auth
    // round trip, instead of holding every slot with sockets that only wait out authTimeoutMs.
    if (this.waiting.size >= this.deps.config.maxUnauthenticated) {
      const oldest = this.waiting.values().next();
      if (!oldest.done) oldest.value.close(CLOSE.TRY_AGAIN_LATER, 'too many unauthenticated connections');
    }
    this.waiting.add(conn);
  }

  private admit(conn: WsConnection, principal: Principal): string | undefined {
    this.waiting.delete(conn);
    if (this.authenticated.size >= this.deps.config.maxConnections) return 'too many connections';
    if (principal.kind === 'ticket') {
      const serverId = principal.claims.sid;
      const count = this.perServer.get(serverId) ?? 0;
      if (count >= this.deps.config.maxPerServer) return 'too many sockets for this server';
      this.perServer.set(serverId, count + 1);
      this.slots.set(conn, serverId);
    }
    this.authenticated.add(conn);
    return undefined;
  }

  private release(conn: WsConnection): void {
    this.waiting.delete(conn);
    this.authenticated.delete(conn);
    const serverId = this.slots.get(conn);
    if (serverId === undefined) return;
    this.slots.delete(conn);
    const count = (this.perServer.get(serverId) ?? 1) - 1;
    if (count <= 0) this.perServer.delete(serverId);
    else this.perServer.set(serverId, count);
  }

  /**
   * The node token changed (NodeToken.rotate): every authenticated socket was opened with the old token or with a
   * ticket keyed by it, so all of them close. Sockets still waiting for their auth frame stay; the new token is
   * the only one that can authenticate them now.
   */
  tokenRotated(): void {
    for (const conn of [...this.authenticated]) conn.close(CLOSE.AUTH_FAILED, 'token rotated');
  }

  wantsStats(serverId: string): boolean {
    for (const conn of this.authenticated) if (conn.wantsStats(serverId)) return true;
    return false;
  }

  closeAll(code: number = CLOSE.GOING_AWAY, reason = 'agent shutting down'): void {
    this.unsubscribe();
    for (const conn of [...this.waiting, ...this.authenticated]) conn.close(code, reason);
  }
}
