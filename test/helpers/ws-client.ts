import WebSocket from 'ws';

/** A test client for /api/ws that records every frame and lets a test await the one it expects. */
export class TestSocket {
  readonly frames: Record<string, any>[] = [];
  closeCode: number | undefined;
  private waiters: { match: (f: Record<string, any>) => boolean; resolve: (f: Record<string, any>) => void }[] = [];
  readonly closed: Promise<number>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Record<string, any>;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    const socket = new TestSocket(new WebSocket(`${url.replace(/^http/, 'ws')}/api/ws`, { headers }));
    await socket.opened;
    return socket;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (already received or coming) that matches, within `timeoutMs`. */
  next(match: (f: Record<string, any>) => boolean, timeoutMs = 15_000): Promise<Record<string, any>> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  response(id: string): Promise<Record<string, any>> {
    return this.next((f) => f.type === 'response' && f.id === id);
  }

  async request(frame: Record<string, unknown> & { id: string }): Promise<Record<string, any>> {
    this.send(frame);
    return this.response(frame.id);
  }

  close(): void {
    this.ws.close();
  }
}

/** A client frame (masked, as RFC 6455 requires from clients) for a raw socket. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const header = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return Buffer.concat([header, mask, body]);
}

/**
 * A WebSocket client that sends its frames and then never reads again: a consumer stalled at the TCP level,
 * which no WebSocket library offers on purpose. Resolves with the socket once the upgrade succeeded.
 */
export async function stalledClient(url: string, token: string, frames: Record<string, unknown>[]) {
  const { connect } = await import('node:net');
  const { port, hostname } = new URL(url);
  const socket = connect({ port: Number(port), host: hostname });
  // The smallest receive buffer the kernel allows, so the agent's queue grows after a few frames.
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `GET /api/ws HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('data', (chunk) =>
      String(chunk).startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(String(chunk))),
    );
  });
  for (const frame of frames) socket.write(maskedTextFrame(JSON.stringify(frame)));
  socket.pause();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}
