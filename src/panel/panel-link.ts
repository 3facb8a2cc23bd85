import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Dispatcher } from '../commands/dispatcher.js';
import type { EventBus } from '../events/bus.js';
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
} from '../protocol/frames.js';
import { decideResume } from '../protocol/resume.js';
import { CommandIdCache } from './command-id-cache.js';
import { reconnectDelayMs } from './reconnect-backoff.js';

/** Link states reported by /api/status (PROTOCOL.md §6.4). */
export type LinkState = 'disabled' | 'connecting' | 'open' | 'established';

/** Frame types that prove the peer speaks the protocol; the panel's mock socket sends none of them. */
const CONFORMING = new Set(['welcome', 'ping', 'pong', 'command']);

export interface PanelLinkOptions {
  url: URL;
  /** The node token as it is now: read at each dial, so `token rotate` + SIGHUP reaches the link too. */
  token: () => string;
  agentId: string;
  nodeId: string;
  version: string;
  caFile: string | undefined;
  dispatcher: Dispatcher;
  bus: EventBus;
  log: Logger;
  /** The hello's content: the agent's identity (the same as the inbound socket's) plus the server snapshot. */
  hello: () => HelloIdentity;
  pong: () => Record<string, unknown>;
  pingIntervalMs: number;
  silenceTimeoutMs: number;
  /** The backoff attempt counter resets after the link has been established this long. */
  resetAfterMs: number;
  onEstablished?: () => void;
}

/**
 * The outbound link the agent dials to the panel: hello → welcome (with `since` for resume from the replay
 * buffer), commands through the shared dispatcher with one response each (a repeated id gets the cached
 * response, never a second execution), events pushed only while established, heartbeats, and redial with
 * equal-jitter back-off. The HTTP API never depends on it.
 */
export class PanelLink {
  private stateValue: LinkState = 'connecting';
  private socket: WebSocket | undefined;
  private attempt = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastConforming = 0;
  private establishedAt = 0;
  private readonly answered = new CommandIdCache<Record<string, unknown>>(1024);
  private readonly inFlight = new Set<string>();
  private readonly unsubscribe: () => void;
  private readonly ca: Buffer | undefined;

  constructor(private readonly options: PanelLinkOptions) {
    this.ca = options.caFile ? readFileSync(options.caFile) : undefined;
    this.unsubscribe = options.bus.subscribe((event) => {
      if (this.stateValue === 'established') this.send(eventFrame(event));
    });
    if (options.url.protocol === 'ws:')
      options.log.warn({ url: options.url.href }, 'panel link is not encrypted (ws://)');
  }

  get state(): LinkState {
    return this.stateValue;
  }

  start(): void {
    this.dial();
  }

  private dial(): void {
    if (this.stopped) return;
    this.stateValue = 'connecting';
    const { options } = this;
    const socket = new WebSocket(options.url, {
      headers: {
        authorization: `Bearer ${options.token()}`,
        'x-agent-id': options.agentId,
        'x-node-id': options.nodeId,
        'user-agent': `ctrl-alt-play-agent/${options.version}`,
      },
      ...(this.ca ? { ca: this.ca } : {}),
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    socket.on('open', () => this.onOpen(socket));
    socket.on('message', (data, isBinary) => this.onMessage(socket, data as Buffer, isBinary));
    socket.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401 || status === 403) {
        options.log.error({ status }, 'the panel refused the agent token; retrying at the back-off cap');
        this.attempt = 64; // keep retrying, at the cap (a token fix on the panel side must not need a restart)
      } else options.log.warn({ status }, 'panel link handshake refused');
      socket.terminate();
    });
    socket.on('error', (err) => options.log.debug({ err: err.message }, 'panel link error'));
    socket.on('close', (code) => this.onClose(socket, code));
  }

  private onOpen(socket: WebSocket): void {
    if (socket !== this.socket) return;
    this.stateValue = 'open';
    this.lastConforming = Date.now();
    const { options } = this;
    this.send(helloFrame(options.hello()));
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(), Math.min(options.pingIntervalMs, options.silenceTimeoutMs / 2));
    this.heartbeat.unref();
  }

  private beat(): void {
    if (Date.now() - this.lastConforming > this.options.silenceTimeoutMs) {
      this.options.log.warn('panel link silent past the liveness timeout; reconnecting');
      this.socket?.close(CLOSE.LIVENESS_TIMEOUT, 'liveness timeout');
      setTimeout(() => this.socket?.terminate(), 5_000).unref();
      return;
    }
    this.send({ type: 'ping', id: `p${Date.now().toString(36)}`, timestamp: new Date().toISOString() });
  }

  private onMessage(socket: WebSocket, data: Buffer, isBinary: boolean): void {
    if (socket !== this.socket) return;
    if (isBinary) {
      socket.close(CLOSE.UNSUPPORTED_DATA, 'binary frames are not supported');
      return;
    }
    let frame: Frame;
    try {
      frame = parseFrame(data.toString('utf8'));
    } catch (err) {
      // The mock console socket of today's panel also lands here: it is simply never established.
      if (err instanceof FrameError) this.options.log.debug({ reason: err.message }, 'ignoring a non-conforming frame');
      return;
    }
    if (!CONFORMING.has(frame.type)) return;
    this.lastConforming = Date.now();
    if (this.stateValue !== 'established') this.establish(frame);
    if (frame.type === 'ping') this.send(pongFrame(frame.id, this.options.pong()));
    else if (frame.type === 'command') void this.onCommand(frame);
  }

  /** First conforming frame: established; a welcome with `since` replays what the panel missed first. */
  private establish(frame: Frame): void {
    this.stateValue = 'established';
    this.establishedAt = Date.now();
    this.options.log.info('panel link established');
    this.options.onEstablished?.();
    if (frame.type !== 'welcome') return;
    const { bus } = this.options;
    const decision = decideResume(frame.since, bus);
    if (!decision) return;
    if (decision.resumed) {
      for (const event of decision.missed) this.send(eventFrame(event));
      return;
    }
    const { reason } = decision;
    const since = frame.since as { seq?: unknown };
    // A gap is never silent: the panel rebuilds from a snapshot.
    this.send({
      type: 'event',
      event: 'daemon_message',
      timestamp: new Date().toISOString(),
      data: {
        level: 'warning',
        message: `cannot resume from ${String(since.seq)}: ${reason}`,
        resumed: false,
        reason,
        epoch: bus.epoch,
        seq: bus.currentSeq,
      },
    });
  }

  private async onCommand(frame: Frame): Promise<void> {
    const id = frame.id;
    if (id !== undefined) {
      const cached = this.answered.get(id);
      if (cached) {
        this.send(cached);
        return;
      }
      if (this.inFlight.has(id)) return; // the first copy answers
      this.inFlight.add(id);
    }
    try {
      const reply = await this.options.dispatcher.dispatch(commandBody(frame), this.options.log);
      const response = responseFrame(id, reply);
      if (id !== undefined) this.answered.set(id, response);
      this.send(response);
    } finally {
      if (id !== undefined) this.inFlight.delete(id);
    }
  }

  private onClose(socket: WebSocket, code: number): void {
    if (socket !== this.socket) return;
    clearInterval(this.heartbeat);
    const wasEstablished = this.stateValue === 'established';
    this.socket = undefined;
    if (this.stopped) return;
    this.stateValue = 'connecting';
    if (wasEstablished && Date.now() - this.establishedAt >= this.options.resetAfterMs) this.attempt = 0;
    const delay = reconnectDelayMs(this.attempt++);
    this.options.log.info({ code, retryInMs: delay }, 'panel link closed; redialling');
    this.timer = setTimeout(() => this.dial(), delay);
    this.timer.unref();
  }

  private send(frame: Record<string, unknown>): void {
    const socket = this.socket;
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    const socket = this.socket;
    socket?.close(CLOSE.GOING_AWAY, 'agent shutting down');
    if (socket) setTimeout(() => socket.terminate(), 1_000).unref();
    this.stateValue = 'disabled';
  }
}
