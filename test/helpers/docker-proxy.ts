import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A slow Engine (issue 13): requests whose method and path match are held for `ms`. `hold: 'response'` lets the
 * Engine do the work at once and holds its answer; `hold: 'request'` holds the request itself, and sends it to the
 * Engine even when the client has given up meanwhile, as dockerd does with a call it is still working on (the
 * container then starts after the client's deadline).
 */
export interface DelayRule {
  method: string;
  path: RegExp;
  ms: number;
  hold: 'request' | 'response';
}

/** Request lines kept in `requests`; a test that needs more clears it between steps. */
const LOG_MAX = 10_000;

/** How long a connection whose client left is kept open for a held request to reach the Engine and be answered. */
const ORPHAN_GRACE_MS = 15_000;

/**
 * A unix-socket proxy in front of the real Engine. Cutting it looks, to an agent pointed at it, exactly like
 * dockerd going away (connections reset, new ones refused) without disturbing other tests on the same Engine.
 * Delay rules make it a slow Engine instead. A rule matches the request line at the start of a chunk from the
 * client: Node's HTTP client writes a bodiless request's head in one write, which is what the Engine API's power
 * calls are.
 */
export class DockerProxy {
  readonly socketPath = path.join(tmpdir(), `cap-docker-${randomBytes(4).toString('hex')}.sock`);
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private rules: DelayRule[] = [];
  /** Requests held so far, per rule (tests assert the slow path was taken). */
  readonly held = new Map<DelayRule, number>();
  /**
   * Every request line seen, in order ("GET /containers/json"), query strings cut, up to LOG_MAX: tests count the
   * Engine calls a path makes (issue 13).
   */
  readonly requests: string[] = [];

  constructor(private readonly target = '/var/run/docker.sock') {}

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  delay(rule: DelayRule): DelayRule {
    this.rules.push(rule);
    this.held.set(rule, 0);
    return rule;
  }

  clearDelays(): void {
    this.rules = [];
  }

  private match(chunk: Buffer): DelayRule | undefined {
    const line = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(chunk.subarray(0, 2048).toString('latin1'));
    if (!line) return undefined;
    if (this.requests.length < LOG_MAX) this.requests.push(`${line[1]} ${(line[2] ?? '').split('?')[0]}`);
    const rule = this.rules.find((r) => r.method === line[1] && r.path.test(line[2] ?? ''));
    if (rule) this.held.set(rule, (this.held.get(rule) ?? 0) + 1);
    return rule;
  }

  async start(): Promise<void> {
    await rm(this.socketPath, { force: true });
    const server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
    this.server = server;
  }

  private relay(client: Socket): void {
    const upstream = createConnection(this.target);
    this.sockets.add(client);
    this.sockets.add(upstream);
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    // Chunks from the client wait here while a held request is pending, so the order on the connection holds.
    let toEngine: Buffer[] | undefined;
    let heldRequests = 0;
    // Chunks from the Engine wait here until a held answer's time is up.
    let toClient: Buffer[] | undefined;
    client.on('data', (chunk: Buffer) => {
      if (toEngine) {
        toEngine.push(chunk);
        return;
      }
      const rule = this.match(chunk);
      if (rule?.hold === 'request') {
        toEngine = [chunk];
        heldRequests++;
        setTimeout(() => {
          const queued = toEngine ?? [];
          toEngine = undefined;
          heldRequests--;
          if (!upstream.destroyed) for (const c of queued) upstream.write(c);
          // The client may have given up: the Engine still gets the call, then the connection goes.
          if (client.destroyed) setTimeout(drop, ORPHAN_GRACE_MS).unref();
        }, rule.ms).unref();
        return;
      }
      if (rule?.hold === 'response') {
        toClient = [];
        setTimeout(() => {
          const queued = toClient ?? [];
          toClient = undefined;
          if (!client.destroyed) for (const c of queued) client.write(c);
        }, rule.ms).unref();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (toClient) toClient.push(chunk);
      else if (!client.destroyed) client.write(chunk);
      if (client.destroyed && heldRequests === 0 && !toEngine) drop();
    });
    client
      .on('error', () => undefined)
      .on('close', () => {
        if (heldRequests === 0) drop();
      });
    upstream.on('error', drop).on('close', drop);
    client.on('end', () => {
      if (heldRequests === 0) upstream.end();
    });
    upstream.on('end', () => client.end());
  }

  /** Drops every connection and stops accepting new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
