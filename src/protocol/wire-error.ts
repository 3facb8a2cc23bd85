import { type AgentError, ERROR_CATALOGUE, toAgentError } from '../errors.js';
import type { Reply } from './reply.js';

/**
 * The one mapping from a catalogue error to the wire (PROTOCOL.md §2.3, §3.2, §6.1), for every transport:
 *  - HTTP bodies carry `error` as a string and `code` beside it (the panel reads `error` as text);
 *  - WebSocket and panel-link frames carry `error` as an object `{code, message, details?}`.
 * Two HTTP status policies, each named here and nowhere else:
 *  - `command`: the command API and its transport errors use the catalogue's status (200 for every failure of an
 *    action: the panel reads `success`, and a 4xx would make its client throw before reading the body);
 *  - `resource`: routes that serve a resource (the streamed file content) answer like any HTTP resource, with
 *    401, 404, 500 or 400, so browsers, curl and download managers behave.
 */

export type HttpStatusPolicy = 'command' | 'resource';

export function httpStatusOf(error: AgentError, policy: HttpStatusPolicy): number {
  if (policy === 'command') return ERROR_CATALOGUE[error.code].httpStatus;
  switch (error.code) {
    case 'AUTH_FAILED':
      return 401;
    case 'SERVER_NOT_FOUND':
    case 'FILE_NOT_FOUND':
      return 404;
    case 'RATE_LIMITED':
      return 429;
    case 'INTERNAL_ERROR':
      return 500;
    default:
      return 400;
  }
}

/** The HTTP error body: `error` is a string, `code` an extension. */
export function httpErrorBody(error: AgentError): Record<string, unknown> {
  return { success: false, error: error.message, code: error.code };
}

/** An HTTP error reply for anything thrown: its status under `policy` and its body. */
export function httpError(err: unknown, policy: HttpStatusPolicy): { status: number; body: Record<string, unknown> } {
  const error = toAgentError(err);
  return { status: httpStatusOf(error, policy), body: httpErrorBody(error) };
}

/** A command's reply as the HTTP command API sends it (the id echoed when the request carried one). */
export function httpReplyBody(reply: Reply): Record<string, unknown> {
  if (reply.success) return reply as Record<string, unknown>;
  const body = httpErrorBody(reply.error);
  return reply.id === undefined ? body : { id: reply.id, ...body };
}

/** The error object of a WebSocket `response` or `error` frame. */
export function frameErrorBody(error: AgentError): {
  code: string;
  message: string;
  details?: Record<string, unknown>;
} {
  const { code, message, details } = error;
  return { code, message, ...(details ? { details } : {}) };
}
