import type { WebSocket } from 'ws';
import type { EventBus } from '../../events/bus.js';
import { type ConnectionDeps, type Principal, WsConnection } from './connection.js';
import { CLOSE } from './frames.js';

/** Every open /api/ws socket: the connection cap, per-server ticket slots, and event fan-out from the bus. */
export class WsHub {
  private readonly connections = new Set<WsConnection>();
  private readonly perServer = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: Omit<ConnectionDeps, 'claimServerSlot' | 'releaseServerSlot'>,
    bus: EventBus,
  ) {
    this.unsubscribe = bus.subscribe((event) => {
      for (const conn of this.connections) conn.deliver(event);
    });
  }

  get size(): number {
    return this.connections.size;
  }

  accept(socket: WebSocket, principal: Principal | undefined): void {
    const conn = new WsConnection(
      socket,
      {
        ...this.deps,
        claimServerSlot: (serverId) => {
          const count = this.perServer.get(serverId) ?? 0;
          if (count >= this.deps.config.maxPerServer) return false;
          this.perServer.set(serverId, count + 1);
          return true;
        },
        releaseServerSlot: (serverId) => {
          const count = (this.perServer.get(serverId) ?? 1) - 1;
          if (count <= 0) this.perServer.delete(serverId);
          else this.perServer.set(serverId, count);
        },
      },
      principal,
      (closed) => this.connections.delete(closed),
    );
    if (this.connections.size >= this.deps.config.maxConnections) {
      conn.close(CLOSE.TRY_AGAIN_LATER, 'too many connections');
      return;
    }
    this.connections.add(conn);
  }

  wantsStats(serverId: string): boolean {
    for (const conn of this.connections) if (conn.wantsStats(serverId)) return true;
    return false;
  }

  closeAll(code: number = CLOSE.GOING_AWAY, reason = 'agent shutting down'): void {
    this.unsubscribe();
    for (const conn of [...this.connections]) conn.close(code, reason);
  }
}
