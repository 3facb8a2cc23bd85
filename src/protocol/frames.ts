import type { AgentEvent } from './events.js';
import type { Reply } from './reply.js';
import { frameErrorBody } from './wire-error.js';

/**
 * Frames shared by both WebSocket transports (PROTOCOL.md §6.1): the Issue #27 envelope (`command`,
 * `response`, `event`, `ping`, `pong`) plus this project's `hello`, `welcome`, `auth`, `subscribe`,
 * `unsubscribe`. One JSON object per text frame.
 */

export const FRAME_TYPES = [
  'command',
  'response',
  'event',
  'ping',
  'pong',
  'hello',
  'welcome',
  'auth',
  'subscribe',
  'unsubscribe',
] as const;
export type FrameType = (typeof FRAME_TYPES)[number];

export interface Frame {
  type: FrameType | string;
  id?: string;
  [key: string]: unknown;
}

/** Close codes of PROTOCOL.md §6.6; 4429 (rate limited) mirrors HTTP 429 as 4401 and 4408 mirror 401 and 408. */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  TOO_LARGE: 1009,
  TRY_AGAIN_LATER: 1013,
  PROTOCOL_VIOLATION: 4400,
  AUTH_FAILED: 4401,
  LIVENESS_TIMEOUT: 4408,
  RATE_LIMITED: 4429,
} as const;

export class FrameError extends Error {
  constructor(
    message: string,
    readonly closeCode: number,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Parses one text frame; not JSON or not an object → FrameError with close code 4400. */
export function parseFrame(text: string): Frame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FrameError('frame is not valid JSON', CLOSE.PROTOCOL_VIOLATION);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('frame must be a JSON object', CLOSE.PROTOCOL_VIOLATION);
  }
  const frame = value as Frame;
  if (typeof frame.type !== 'string') throw new FrameError('frame has no type', CLOSE.PROTOCOL_VIOLATION);
  if (frame.id !== undefined && (typeof frame.id !== 'string' || frame.id.length > 128)) {
    throw new FrameError('frame id must be a string of at most 128 characters', CLOSE.PROTOCOL_VIOLATION);
  }
  return frame;
}

/** The dispatcher body of a `command` frame: flat fields, or the nested `{data:{action, serverId, payload}}`. */
export function commandBody(frame: Frame): Record<string, unknown> {
  const nested = frame.data;
  if (frame.action === undefined && typeof nested === 'object' && nested !== null && !Array.isArray(nested)) {
    return { ...(nested as Record<string, unknown>), id: frame.id };
  }
  return { action: frame.action, serverId: frame.serverId, payload: frame.payload, data: frame.data, id: frame.id };
}

function now(): string {
  return new Date().toISOString();
}

/** A `response` frame: here `error` is an object `{code, message, details?}` (HTTP keeps a string). */
export function responseFrame(id: string | undefined, reply: Reply): Record<string, unknown> {
  const base = { type: 'response', id, timestamp: now(), success: reply.success };
  if (reply.success) {
    return {
      ...base,
      ...(reply.data !== undefined ? { data: reply.data } : {}),
      ...(reply.message !== undefined ? { message: reply.message } : {}),
    };
  }
  return { ...base, error: frameErrorBody(reply.error) };
}

/** What a `hello` says about the agent, on the inbound socket and on the panel link alike (§6.1). */
export interface HelloIdentity {
  agentId: string;
  nodeId: string | undefined;
  version: string;
  protocolVersion: number;
  epoch: string;
  seq: number;
  capabilities: { actions: readonly string[]; events: readonly string[] };
  [extra: string]: unknown;
}

export function helloFrame(identity: HelloIdentity): Record<string, unknown> {
  return { type: 'hello', id: `h${Date.now().toString(36)}`, timestamp: now(), ...identity };
}

export function eventFrame(event: AgentEvent): Record<string, unknown> {
  return { type: 'event', ...event };
}

export function pongFrame(id: string | undefined, data: Record<string, unknown>): Record<string, unknown> {
  return { type: 'pong', id, timestamp: now(), data };
}
