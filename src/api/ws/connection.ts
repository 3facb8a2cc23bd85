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
  type HelloIdentity,
  helloFrame,
  pongFrame,
  responseFrame,
} from '../../protocol/frames.js';
import type { TicketSigner } from '../../protocol/tickets.js';
import type { ServerRegistry } from '../../servers/registry.js';
import { admitFrame } from './admit-frame.js';
import { type AuthFailures, judgeAuthFrame, type Principal } from './auth-frame.js';
import { EventHold } from './event-hold.js';
import { raiseFrameLimit } from './frame-limit.js';
import { FrameBudget, TokenBucket } from './rate-limiter.js';
import { SocketDeadlines } from './socket-deadlines.js';
import { Subscriptions } from './subscriptions.js';
import { ticketGuard } from './ticket-guard.js';

export type { Principal } from './auth-frame.js';

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

/**
 * awaiting_auth → open → closed, or awaiting_auth → closed; nothing leaves closed. What an open socket is
 * (its principal, what it subscribed to) exists only in the open state.
 */
type ConnState =
  | { kind: 'awaiting_auth' }
  | { kind: 'open'; principal: Principal; subscriptions: Subscriptions }
  | { kind: 'closed' };

/**
 * One /api/ws socket: its state, routing of frames to auth, subscriptions and the shared dispatcher, and
 * back-pressure. Its clocks are SocketDeadlines, the inbound budget admitFrame, the order of responses and events
 * EventHold. The bounds of PROTOCOL.md §6.5 live here; the caps across sockets live in the hub.
 */
export class WsConnection {
  private state: ConnState = { kind: 'awaiting_auth' };
  private readonly commands: TokenBucket;
  private readonly budget: FrameBudget;
  private readonly deadlines: SocketDeadlines;
  private readonly hold = new EventHold();
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
    socket.on('pong', () => this.deadlines.seen());
    // Protocol pings are frames too: ws answers them itself, so a flood of them is only visible here.
    socket.on('ping', () => {
      this.deadlines.seen();
      if (this.budget.admit() === 'close') this.close(CLOSE.RATE_LIMITED, 'rate limit exceeded');
    });
    socket.on('close', () => this.dispose());
    socket.on('error', (err) => deps.log.debug({ err }, 'websocket error'));
    this.deadlines = new SocketDeadlines(config, {
      awaitingAuth: () => this.state.kind === 'awaiting_auth',
      ping: () => {
        if (socket.readyState === socket.OPEN) socket.ping();
      },
      close: (code, reason) => this.close(code, reason),
    });
  }

  /** Called by the hub for a bearer header on the upgrade, and below for an auth frame. */
  authenticate(principal: Principal): boolean {
    if (this.state.kind !== 'awaiting_auth') return false;
    const refused = this.seat.authenticated(this, principal);
    if (refused) {
      this.close(CLOSE.TRY_AGAIN_LATER, refused);
      return false;
    }
    const ticket = principal.kind === 'ticket' ? principal.claims : undefined;
    const subscriptions = new Subscriptions(this.deps.registry, this.deps.bus, ticket);
    this.state = { kind: 'open', principal, subscriptions };
    // Ticket sockets keep the small limit: their actions (console lines, power) never need more.
    if (principal.kind === 'node' && !raiseFrameLimit(this.socket, this.context.nodeFrameBytes)) {
      this.deps.log.warn('ws internals changed: node-token sockets keep the pre-auth frame limit');
    }
    if (ticket) this.deadlines.watchExpiry(ticket.exp * 1000);
    this.send(helloFrame(this.deps.hello()));
    return true;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state.kind === 'closed') return;
    this.deadlines.seen();
    const intake = admitFrame(data, isBinary, this.budget);
    if (intake.kind === 'close') {
      this.close(intake.code, intake.reason);
      return;
    }
    const { frame } = intake;
    if (intake.kind === 'refused') {
      const error = new AgentError('RATE_LIMITED', 'more than the allowed frames per second; slow down');
      this.send(responseFrame(frame.id, { success: false, error }));
      return;
    }
    if (this.state.kind === 'awaiting_auth') {
      this.onAuthFrame(frame);
      return;
    }
    this.route(frame, this.state);
  }

  private route(frame: Frame, open: Extract<ConnState, { kind: 'open' }>): void {
    switch (frame.type) {
      case 'command':
        return void this.onCommand(frame, open.principal);
      case 'subscribe':
        this.onSubscribe(frame, open.subscriptions);
        return;
      case 'unsubscribe': {
        const subscribed = open.subscriptions.unsubscribe(frame);
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

  private async onCommand(frame: Frame, principal: Principal): Promise<void> {
    if (!this.commands.take()) {
      const error = new AgentError('RATE_LIMITED', 'more than the allowed commands per second; slow down');
      this.send(responseFrame(frame.id, { success: false, error }));
      return;
    }
    const guard =
      principal.kind === 'ticket'
        ? ticketGuard(principal.claims, this.deps.registry, (action) => this.deps.dispatcher.ticketPermission(action))
        : undefined;
    this.hold.begin();
    try {
      const reply = await this.deps.dispatcher.dispatch(commandBody(frame), this.deps.log, guard);
      this.send(responseFrame(frame.id, reply));
    } finally {
      for (const event of this.hold.end()) this.send(eventFrame(event));
    }
  }

  private onSubscribe(frame: Frame, subscriptions: Subscriptions): void {
    const result = subscriptions.subscribe(frame);
    if (result instanceof AgentError) {
      this.send(responseFrame(frame.id, { success: false, error: result }));
      return;
    }
    this.send(responseFrame(frame.id, { success: true, data: result.data }));
    for (const event of result.replay) this.send(eventFrame(event));
  }

  wantsStats(serverId: string): boolean {
    return this.state.kind === 'open' && this.state.subscriptions.wantsStats(serverId);
  }

  deliver(event: AgentEvent): void {
    if (this.state.kind !== 'open' || !this.state.subscriptions.matches(event)) return;
    const verdict = this.hold.offer(event);
    if (verdict === 'overflow') this.close(CLOSE.TRY_AGAIN_LATER, 'slow consumer: resume with since');
    else if (verdict === 'send') this.send(eventFrame(event));
  }

  private send(frame: Record<string, unknown>): void {
    if (this.state.kind === 'closed' || this.socket.readyState !== this.socket.OPEN) return;
    // A consumer that cannot keep up is closed rather than buffered without bound; it resumes from its seq.
    if (this.socket.bufferedAmount > this.deps.config.maxQueuedBytes) {
      this.close(CLOSE.TRY_AGAIN_LATER, 'slow consumer: resume with since');
      return;
    }
    this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.state.kind === 'closed') return;
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
    if (this.state.kind === 'closed') return;
    this.state = { kind: 'closed' };
    this.deadlines.dispose();
    this.hold.clear();
    this.seat.closed(this);
  }
}
