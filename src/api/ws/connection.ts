import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Dispatcher } from '../../commands/dispatcher.js';
import type { AgentConfig } from '../../config/schema.js';
import { AgentError } from '../../errors.js';
import { type AgentEvent, EVENT_NAMES, type EventBus, type EventName } from '../../events/bus.js';
import type { ServerRegistry } from '../../servers/registry.js';
import {
  CLOSE,
  commandBody,
  eventFrame,
  type Frame,
  FrameError,
  parseFrame,
  pongFrame,
  responseFrame,
} from './frames.js';
import { TokenBucket } from './rate-limiter.js';
import { permissionFor, type TicketClaims, type TicketSigner } from './tickets.js';

/** Frames before authentication are small: an auth frame is a token and an id (PROTOCOL.md §6.5). */
const MAX_PREAUTH_FRAME_BYTES = 16 * 1024;
/** Events held back while a command is in flight (its response must precede them). */
const MAX_HELD_EVENTS = 10_000;

export type Principal = { kind: 'node' } | { kind: 'ticket'; claims: TicketClaims };

export interface ConnectionDeps {
  config: AgentConfig['ws'];
  dispatcher: Dispatcher;
  bus: EventBus;
  registry: ServerRegistry;
  tickets: TicketSigner;
  matchesToken: (token: string | undefined) => boolean;
  hello: () => Record<string, unknown>;
  pong: () => Record<string, unknown>;
  /** Claims a per-server slot for a ticket socket; false when the server has too many. */
  claimServerSlot: (serverId: string) => boolean;
  releaseServerSlot: (serverId: string) => void;
  log: Logger;
}

interface Filter {
  servers: Set<string> | '*';
  events: Set<EventName> | '*';
}

const EVENT_SET: ReadonlySet<string> = new Set(EVENT_NAMES);

/**
 * One /api/ws socket: authentication (header, auth frame or ticket), subscriptions with resume, commands through
 * the shared dispatcher, liveness and every bound of PROTOCOL.md §6.5.
 */
export class WsConnection {
  private principal: Principal | undefined;
  private filter: Filter | undefined;
  private readonly bucket: TokenBucket;
  private inFlight = 0;
  private held: AgentEvent[] = [];
  private lastSeen = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly warnedTypes = new Set<string>();

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
    principal: Principal | undefined,
    private readonly onClose: (conn: WsConnection) => void,
  ) {
    this.bucket = new TokenBucket(deps.config.commandsPerSecond, deps.config.commandBurst);
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('pong', () => {
      this.lastSeen = Date.now();
    });
    socket.on('close', () => this.dispose());
    socket.on('error', (err) => deps.log.debug({ err }, 'websocket error'));
    this.timers.push(
      setInterval(() => this.heartbeat(), Math.min(deps.config.pingIntervalMs, deps.config.idleTimeoutMs / 2)),
    );
    if (principal) this.authenticate(principal);
    else {
      this.timers.push(
        setTimeout(() => {
          if (!this.principal) this.close(CLOSE.AUTH_FAILED, 'authentication timeout');
        }, deps.config.authTimeoutMs),
      );
    }
  }

  private heartbeat(): void {
    if (Date.now() - this.lastSeen > this.deps.config.idleTimeoutMs) {
      this.close(CLOSE.LIVENESS_TIMEOUT, 'liveness timeout');
      return;
    }
    if (this.socket.readyState === this.socket.OPEN) this.socket.ping();
  }

  private authenticate(principal: Principal): boolean {
    if (principal.kind === 'ticket' && !this.deps.claimServerSlot(principal.claims.sid)) {
      this.close(CLOSE.TRY_AGAIN_LATER, 'too many sockets for this server');
      return false;
    }
    this.principal = principal;
    this.send({
      type: 'hello',
      id: `h${Date.now().toString(36)}`,
      timestamp: new Date().toISOString(),
      ...this.deps.hello(),
    });
    return true;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (isBinary) {
      this.close(CLOSE.UNSUPPORTED_DATA, 'binary frames are not supported');
      return;
    }
    if (!this.principal && data.length > MAX_PREAUTH_FRAME_BYTES) {
      this.close(CLOSE.TOO_LARGE, 'frame too large');
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
    if (!this.principal) {
      this.onAuthFrame(frame);
      return;
    }
    switch (frame.type) {
      case 'command':
        return void this.onCommand(frame);
      case 'subscribe': {
        this.onSubscribe(frame);
        return;
      }
      case 'unsubscribe': {
        this.onUnsubscribe(frame);
        return;
      }
      case 'ping': {
        this.send(pongFrame(frame.id, this.deps.pong()));
        return;
      }
      case 'auth': {
        this.send({ type: 'response', id: frame.id, timestamp: new Date().toISOString(), success: true });
        return;
      }
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
    if (frame.type !== 'auth') {
      this.close(CLOSE.AUTH_FAILED, 'authenticate first');
      return;
    }
    const token = typeof frame.token === 'string' ? frame.token : undefined;
    const ticket = typeof frame.ticket === 'string' ? frame.ticket : token;
    let principal: Principal | undefined;
    if (this.deps.matchesToken(token)) principal = { kind: 'node' };
    else if (ticket) {
      const claims = this.deps.tickets.verify(ticket);
      if (claims) principal = { kind: 'ticket', claims };
    }
    const ok = principal !== undefined;
    const error = new AgentError('AUTH_FAILED', 'invalid token or ticket');
    this.send(responseFrame(frame.id, ok ? { success: true } : { success: false, error }));
    if (!principal) {
      this.close(CLOSE.AUTH_FAILED, 'authentication failed');
      return;
    }
    this.authenticate(principal);
  }

  private async onCommand(frame: Frame): Promise<void> {
    if (!this.bucket.take()) {
      const error = new AgentError('RATE_LIMITED', 'more than the allowed commands per second; slow down');
      this.send(responseFrame(frame.id, { success: false, error }));
      return;
    }
    const body = commandBody(frame);
    const denied = this.ticketDenial(body);
    if (denied) {
      this.send(responseFrame(frame.id, { success: false, error: denied }));
      return;
    }
    this.inFlight++;
    try {
      const reply = await this.deps.dispatcher.dispatch(body, this.deps.log);
      this.send(responseFrame(frame.id, reply));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.releaseHeld();
    }
  }

  /** A ticket socket may use only its own server and only the actions its permissions name. */
  private ticketDenial(body: Record<string, unknown>): AgentError | undefined {
    if (this.principal?.kind !== 'ticket') return undefined;
    const { claims } = this.principal;
    const action = typeof body.action === 'string' ? body.action : '';
    const needed = permissionFor(action);
    if (!needed || !claims.perms.includes(needed)) {
      return new AgentError('PERMISSION_DENIED', `this ticket does not allow ${action || 'that action'}`);
    }
    const serverId = typeof body.serverId === 'string' ? body.serverId : undefined;
    if (!serverId || this.deps.registry.find(serverId)?.id !== claims.sid) {
      return new AgentError('PERMISSION_DENIED', 'this ticket is for another server');
    }
    return undefined;
  }

  private canonicalServers(raw: unknown): Set<string> | '*' | AgentError {
    if (this.principal?.kind === 'ticket') return new Set([this.principal.claims.sid]);
    if (raw === undefined || raw === '*') return '*';
    if (!Array.isArray(raw) || raw.length > 10_000 || !raw.every((s) => typeof s === 'string')) {
      return new AgentError('INVALID_PAYLOAD', 'servers: must be "*" or an array of server ids');
    }
    // Unknown ids are kept as given: a server created later under that id is then included.
    return new Set(raw.map((id) => this.deps.registry.find(id)?.id ?? id));
  }

  private eventNames(raw: unknown): Set<EventName> | '*' | AgentError {
    if (this.principal?.kind === 'ticket' && !this.principal.claims.perms.includes('console.read')) {
      return new Set<EventName>(['server_status_changed']);
    }
    if (raw === undefined || raw === '*') return '*';
    if (!Array.isArray(raw) || !raw.every((e) => typeof e === 'string' && EVENT_SET.has(e))) {
      return new AgentError('INVALID_PAYLOAD', `events: must be "*" or an array of ${EVENT_NAMES.join(', ')}`);
    }
    return new Set(raw as EventName[]);
  }

  private onSubscribe(frame: Frame): void {
    const servers = this.canonicalServers(frame.servers);
    const events = this.eventNames(frame.events);
    const invalid = servers instanceof AgentError ? servers : events instanceof AgentError ? events : undefined;
    if (invalid) {
      this.send(responseFrame(frame.id, { success: false, error: invalid }));
      return;
    }
    this.filter = { servers: servers as Set<string> | '*', events: events as Set<EventName> | '*' };

    const { bus } = this.deps;
    const since = frame.since as { epoch?: unknown; seq?: unknown } | undefined;
    let replay: AgentEvent[] = [];
    let resume: Record<string, unknown> = { resumed: false, replayed: 0 };
    if (since && typeof since === 'object') {
      const seq = Number(since.seq);
      if (since.epoch !== bus.epoch) resume = { resumed: false, replayed: 0, reason: 'epoch_changed' };
      else if (!Number.isInteger(seq) || seq > bus.currentSeq)
        resume = { resumed: false, replayed: 0, reason: 'ahead' };
      else {
        const missed = bus.replaySince(seq);
        if (!missed) resume = { resumed: false, replayed: 0, reason: 'too_old' };
        else {
          replay = missed.filter((e) => this.matches(e));
          resume = { resumed: true, replayed: replay.length };
        }
      }
    }
    const snapshot = this.deps.registry
      .list()
      .filter((s) => this.filter?.servers === '*' || this.filter?.servers.has(s.id))
      .map((s) => ({ serverId: s.id, aliases: s.aliases, status: s.state }));
    this.send(
      responseFrame(frame.id, {
        success: true,
        data: {
          servers: servers === '*' ? '*' : [...(servers as Set<string>)],
          events: events === '*' ? '*' : [...(events as Set<EventName>)],
          epoch: bus.epoch,
          seq: bus.currentSeq,
          ...resume,
          snapshot,
        },
      }),
    );
    for (const event of replay) this.send(eventFrame(event));
  }

  private onUnsubscribe(frame: Frame): void {
    const filter = this.filter;
    if (filter) {
      const servers = frame.servers === undefined ? undefined : this.canonicalServers(frame.servers);
      const events = frame.events === undefined ? undefined : this.eventNames(frame.events);
      if (servers === '*' || (servers === undefined && events === undefined) || events === '*') this.filter = undefined;
      else {
        if (servers instanceof Set && filter.servers !== '*') for (const s of servers) filter.servers.delete(s);
        if (events instanceof Set && filter.events !== '*') for (const e of events) filter.events.delete(e);
      }
    }
    this.send(responseFrame(frame.id, { success: true, data: { subscribed: this.filter !== undefined } }));
  }

  private matches(event: AgentEvent): boolean {
    const filter = this.filter;
    if (!filter) return false;
    if (filter.events !== '*' && !filter.events.has(event.event)) return false;
    if (event.serverId === undefined) return this.principal?.kind === 'node';
    return filter.servers === '*' || filter.servers.has(event.serverId);
  }

  /** Whether this socket wants resource_update for a server (the stats pusher samples only those). */
  wantsStats(serverId: string): boolean {
    const filter = this.filter;
    if (!filter || (filter.events !== '*' && !filter.events.has('resource_update'))) return false;
    return filter.servers === '*' || filter.servers.has(serverId);
  }

  deliver(event: AgentEvent): void {
    if (this.closed || !this.matches(event)) return;
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
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    // A consumer that cannot keep up is closed rather than buffered without bound; it resumes from its seq.
    if (this.socket.bufferedAmount > this.deps.config.maxQueuedBytes) {
      this.close(CLOSE.TRY_AGAIN_LATER, 'slow consumer: resume with since');
      return;
    }
    this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
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
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    if (this.principal?.kind === 'ticket') this.deps.releaseServerSlot(this.principal.claims.sid);
    this.held = [];
    this.onClose(this);
  }
}
