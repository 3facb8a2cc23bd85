import type { WebSocket } from 'ws';

/**
 * Raises the largest frame one socket may receive, after it authenticated with the node token.
 *
 * Why a private field: ws has one `maxPayload` per server, checked by the receiver from each frame header as data
 * arrives, and no public way to change it per socket. The server's limit is therefore the small pre-auth limit,
 * so an unauthenticated peer can never make the agent buffer more than that (security review 2026-12, finding 7:
 * 5 sockets x 60 MiB pre-auth frames held 564 MiB). The supported alternatives were worse: one large limit with our
 * own check after the frame is complete is the finding itself; one small limit for everyone breaks what
 * PROTOCOL.md §6.5 promises node-token clients (write_file content, create_server, long subscribe lists up to the
 * HTTP body limit); counting raw TCP bytes before auth cannot stop ws's receiver, which resumes the socket on its
 * own; two WebSocketServers chosen at upgrade means replacing @fastify/websocket's upgrade routing, and a socket
 * that authenticates by frame would still be stuck at the small limit.
 *
 * It fails closed: if a ws release renames the field, nothing is raised (the caller logs it) and node-token
 * sockets keep the small limit; test/unit/api/ws-limits.test.ts sends a 1 MiB frame after auth to catch that.
 */
export function raiseFrameLimit(socket: WebSocket, maxBytes: number): boolean {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = maxBytes;
  return true;
}
