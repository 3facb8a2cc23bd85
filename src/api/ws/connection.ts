import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Dispatcher } from '../../commands/dispatcher.js';
import type { AgentConfig } from '../../config/schema.js';
import { AgentError } from '../../errors.js';
import type { AgentEvent, EventBus } from '../../events/bus.js';
import {
  CLOSE,
  commandBody,
  eventFrame,
  type Frame,
  FrameError,
  type HelloIdentity,
  helloFrame,
  parseFrame,
  pongFrame,
  responseFrame,
} from '../../protocol/frames.js';
import type { TicketSigner } from '../../protocol/tickets.js';
import type { ServerRegistry } from '../../servers/registry.js';
import { type AuthFailures, judgeAuthFrame, type Principal } from './auth-frame.js';
import { raiseFrameLimit } from './frame-limit.js';
import { FrameBudget, TokenBucket } from './rate-limiter.js';
import { Subscriptions } from './subscriptions.js';
import { ticketGuard } from './ticket-guard.js';

export type { Principal } from './auth-frame.js';

/** Events held back while a command is in flight (its response must precede them). */
const MAX_HELD_EVENTS = 10_000;
/** setTimeout's ceiling; a ticket that lives longer is re-checked at this interval. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What main.ts builds once for every socket. */
export interface ConnectionDeps {
  config: AgentConfig['ws'];
  dispatcher: Dispatcher;
  bus: EventBus;
  registry: ServerRegistry;
  tickets: TicketSigner;
  matchesToken: (token: string | undefined) => boolean;
  hello: () => HelloIdentity;
  pong: () => Record<string, unknown>;
  log: Logger;
}

/** What the upgrade knows about this one socket. */
export interface SocketContext {
  /** The peer's address, the key of the auth-failure limiter. */
  address: string;
  authFailures: AuthFailures;
  /** The largest frame after authenticating with the node token (the HTTP body limit). */
  nodeFrameBytes: number;
}

/** The hub's side of a connection: the caps it enforces, told of every change of state. */
export interface Seat {
  /** The socket authenticated; a returned reason refuses it (close 1013), e.g. a full connection cap. */
  authenticated(conn: WsConnection, principal: Principal): string | undefined;
  closed(conn: WsConnection): void;
}

/** awaiting_auth → open → closed, or awaiting_auth → closed; nothing leaves closed. */
type ConnState = 'awaiting_auth' | 'open' | 'closed';

/**
 * One /api/ws socket: its lifecycle (auth deadline, liveness, ticket expiry), the frame budget, routing of
 * frames to auth, subscriptions and the shared dispatcher, and back-pressure. The bounds of PROTOCOL.md §6.5
 * live here; the caps across sockets live in the hub.
 */
export class WsConnection {
  private state: ConnState = 'awaiting_auth';
  private principal: Principal | undefined;
  private subscriptions: Subscriptions | undefined;
  private readonly commands: TokenBucket;
  private readonly budget: FrameBudget;
  private inFlight = 0;
  private held: AgentEvent[] = [];
  private lastSeen = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private expiry: NodeJS.Timeout | undefined;
  private readonly warnedTypes = new Set<string>();

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
    private readonly context: SocketContext,
    private readonly seat: Seat,
  ) {
    const { config } = deps;
    this.commands = new TokenBucket(config.commandsPerSecond, config.commandBurst);
    this.budget = new FrameBudget(config.framesPerSecond, config.frameBurst);
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('pong', () => {
      this.lastSeen = Date.now();
    });
    // Protocol pings are frames too: ws answers them itself, so a flood of them is only visible here.
    socket.on('ping', () => {
      this.lastSeen = Date.now();
      if (this.budget.admit() === 'close') this.close(CLOSE.RATE_LIMITED, 'rate limit exceeded');
    });
    socket.on('close', () => this.dispose());
    socket.on('error', (err) => deps.log.debug({ err }, 'websocket error'));
    this.timers.push(setInterval(() => this.heartbeat(), Math.min(config.pingIntervalMs, config.idleTimeoutMs / 2)));
    this.timers.push(
      setTimeout(() => {
        if (this.state === 'awaiting_auth') this.close(CLOSE.AUTH_FAILED, 'authentication timeout');
      }, config.authTimeoutMs),
    );
  }

  get authenticatedAs(): Principal | undefined {
    return this.principal;
  }

  private heartbeat(): void {
    if (Date.now() - this.lastSeen > this.deps.config.idleTimeoutMs) {
      this.close(CLOSE.LIVENESS_TIMEOUT, 'liveness timeout');
      return;
    }
    if (this.socket.readyState === this.socket.OPEN) this.socket.ping();
  }

  /** Called by the hub for a bearer header on the upgrade, and below for an auth frame. */
  authenticate(principal: Principal): boolean {
    if (this.state !== 'awaiting_auth') return false;
    const refused = this.seat.authenticated(this, principal);
    if (refused) {
      this.close(CLOSE.TRY_AGAIN_LATER, refused);
      return false;
    }
    this.state = 'open';
    this.principal = principal;
    this.subscriptions = new Subscriptions(
      this.deps.registry,
      this.deps.bus,
      principal.kind === 'ticket' ? principal.claims : undefined,
    );
    // Ticket sockets keep the small limit: their actions (console lines, power) never need more.
    if (principal.kind === 'node' && !raiseFrameLimit(this.socket, this.context.nodeFrameBytes)) {
      this.deps.log.warn('ws internals changed: node-token sockets keep the pre-auth frame limit');
    }
    if (principal.kind === 'ticket') this.watchExpiry(principal.claims.exp * 1000);
    this.send(helloFrame(this.deps.hello()));
    return true;
  }

  /** Closes the socket when its ticket expires, whether or not the client sends anything. */
  private watchExpiry(expiresAtMs: number): void {
    const left = expiresAtMs - Date.now();
    if (left <= 0) {
      this.close(CLOSE.AUTH_FAILED, 'ticket expired');
      return;
    }
    this.expiry = setTimeout(() => this.watchExpiry(expiresAtMs), Math.min(left, MAX_TIMER_MS));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.lastSeen = Date.now();
    if (isBinary) {
      this.close(CLOSE.UNSUPPORTED_DATA, 'binary frames are not supported');
      return;
    }
    const admission = this.budget.admit();
    if (admission === 'close') {
      this.close(CLOSE.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    let frame: Frame;
    try {
      frame = parseFrame(data.toString('utf8'));
    } catch (err) {
      if (err instanceof FrameError) {
        this.close(err.closeCode, err.message);
        return;
      }
      throw err;
    }
    if (admission === 'refuse') {
      const error = new AgentError('RATE_LIMITED', 'more than the allowed frames per second; slow down');
      this.send(responseFrame(frame.id, { success: false, error }));
      return;
    }
    if (this.state === 'awaiting_auth') {
      this.onAuthFrame(frame);
      return;
    }
    this.route(frame);
  }

  private route(frame: Frame): void {
    switch (frame.type) {
      case 'command':
        return void this.onCommand(frame);
      case 'subscribe':
        this.onSubscribe(frame);
        return;
      case 'unsubscribe': {
        const subscribed = this.subscriptions?.unsubscribe(frame) ?? false;
        this.send(responseFrame(frame.id, { success: true, data: { subscribed } }));
        return;
      }
      case 'ping':
        this.send(pongFrame(frame.id, this.deps.pong()));
        return;
      case 'auth':
        this.send(responseFrame(frame.id, { success: true }));
        return;
      case 'pong':
        return;
      default:
        if (!this.warnedTypes.has(frame.type) && this.warnedTypes.size < 20) {
          this.warnedTypes.add(frame.type);
          this.deps.log.info({ type: frame.type }, 'ignoring an unknown frame type');
        }
    }
  }

  private onAuthFrame(frame: Frame): void {
    const outcome = judgeAuthFrame(frame, {
      matchesToken: this.deps.matchesToken,
      tickets: this.deps.tickets,
      authFailures: this.context.authFailures,
      address: this.context.address,
    });
    if (!outcome.ok) {
      this.send(responseFrame(frame.id, { success: false, error: outcome.error }));
      this.close(outcome.closeCode, outcome.closeReason);
      return;
    }
    this.send(responseFrame(frame.id, { success: true }));
    this.authenticate(outcome.principal);
  }

  private async onCommand(frame: Frame): Promise<void> {
    if (!this.commands.take()) {
      const error = new AgentError('RATE_LIMITED', 'more than the allowed commands per second; slow down');
      this.send(responseFrame(frame.id, { success: false, error }));
      return;
    }
    const principal = this.principal;
    const guard =
      principal?.kind === 'ticket'
        ? ticketGuard(principal.claims, this.deps.registry, (action) => this.deps.dispatcher.ticketPermission(action))
        : undefined;
    this.inFlight++;
    try {
      const reply = await this.deps.dispatcher.dispatch(commandBody(frame), this.deps.log, guard);
      this.send(responseFrame(frame.id, reply));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.releaseHeld();
    }
  }

  private onSubscribe(frame: Frame): void {
    const result = this.subscriptions?.subscribe(frame);
    if (!result) return;
    if (result instanceof AgentError) {
      this.send(responseFrame(frame.id, { success: false, error: result }));
      return;
    }
    this.send(responseFrame(frame.id, { success: true, data: result.data }));
    for (const event of result.replay) this.send(eventFrame(event));
  }

  wantsStats(serverId: string): boolean {
    return this.subscriptions?.wantsStats(serverId) ?? false;
  }

  deliver(event: AgentEvent): void {
    if (this.state !== 'open' || !this.subscriptions?.matches(event)) return;
    if (this.inFlight > 0) {
      this.held.push(event);
      if (this.held.length > MAX_HELD_EVENTS) this.close(CLOSE.TRY_AGAIN_LATER, 'slow consumer: resume with since');
      return;
    }
    this.send(eventFrame(event));
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const event of held) this.send(eventFrame(event));
  }

  private send(frame: Record<string, unknown>): void {
    if (this.state === 'closed' || this.socket.readyState !== this.socket.OPEN) return;
    // A consumer that cannot keep up is closed rather than buffered without bound; it resumes from its seq.
    if (this.socket.bufferedAmount > this.deps.config.maxQueuedBytes) {
      this.close(CLOSE.TRY_AGAIN_LATER, 'slow consumer: resume with since');
      return;
    }
    this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.dispose();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
    // A peer that never answers the close handshake must not hold the socket.
    setTimeout(() => this.socket.terminate(), 5_000).unref();
  }

  private dispose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const timer of this.timers) clearTimeout(timer);
    clearTimeout(this.expiry);
    this.held = [];
    this.seat.closed(this);
  }
}
