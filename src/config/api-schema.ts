import { z } from 'zod';
import { positiveInt } from './schema-values.js';

/** The listeners of src/api: TLS of the main listener, its HTTP limits, the inbound WebSocket (PROTOCOL.md §2, §6). */

export const tlsSchema = z
  .strictObject({
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .prefault({})
  .refine((t) => Boolean(t.certFile) === Boolean(t.keyFile), 'certFile and keyFile must be given together');

export const httpSchema = z
  .strictObject({
    /** The panel forwards 50 MB uploads as base64, which adds a third (PROTOCOL.md §2.3). */
    bodyLimitBytes: positiveInt.default(70 * 1024 * 1024),
    /** Every reply goes out within this deadline; the panel gives up after 30 s (§2.4). */
    replyDeadlineMs: positiveInt.default(25_000),
    /** Failed authentications per address per minute before 429 for a minute. */
    authFailuresPerMinute: positiveInt.default(10),
  })
  .prefault({});

export const wsSchema = z
  .strictObject({
    /** Origins allowed to open /api/ws from a browser; empty: any request with an Origin is refused. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** Authenticated sockets. Sockets still waiting for their auth frame have their own cap below. */
    maxConnections: positiveInt.default(100),
    /**
     * Sockets upgraded without credentials and not yet authenticated. When full, the oldest waiting socket is
     * closed with 1013 to make room, so a flood of idle sockets delays a real client by at most its auth
     * round trip instead of locking it out; each also has authTimeoutMs to authenticate.
     */
    maxUnauthenticated: positiveInt.default(32),
    /**
     * Largest frame before authentication, and for ticket (browser) sockets, whose actions are console lines
     * (at most 4096 UTF-16 units, so at most 12 KiB of UTF-8) and power: the ws maxPayload, checked from each
     * frame header as data arrives. Node-token sockets get the HTTP body limit after authenticating (§6.5).
     */
    maxPreAuthFrameBytes: positiveInt.default(16 * 1024),
    /**
     * Budget of every inbound frame (commands, subscribe, unsubscribe, ping, auth, and protocol pings) per
     * socket, as a token bucket. A frame over budget gets RATE_LIMITED; as many refusals again (the same
     * bucket shape) close the socket with 4429. Commands also spend commandsPerSecond.
     */
    framesPerSecond: positiveInt.default(50),
    frameBurst: positiveInt.default(100),
    /** Sockets per server for ticket (browser) connections. */
    maxPerServer: positiveInt.default(20),
    commandsPerSecond: positiveInt.default(20),
    commandBurst: positiveInt.default(50),
    authTimeoutMs: positiveInt.default(10_000),
    pingIntervalMs: positiveInt.default(25_000),
    /** A socket silent for this long (no frame, no pong) is dropped. */
    idleTimeoutMs: positiveInt.default(60_000),
    /** A slow consumer with more than this queued is closed with 1013 and must resume. */
    maxQueuedBytes: positiveInt.default(8 * 1024 * 1024),
    /** Lifetime cap of browser tickets minted by create_ws_ticket. */
    maxTicketTtlSeconds: positiveInt.default(900),
  })
  .prefault({});
