import { AgentError } from '../errors.js';

/** Normalisation shared by every transport (PROTOCOL.md §3.1). */

const ACTION_PATTERN = /^[a-z][a-z0-9_:]{0,63}$/;

/** Names from the historical docs that map onto the canonical actions. */
export const ACTION_ALIASES: Readonly<Record<string, string>> = {
  get_status: 'get_server_status',
  get_file: 'read_file',
  send_server_command: 'console:command',
};

export type CommandId = string | number;

export interface Command {
  action: string;
  /** The id exactly as received (top level, payload or data), not yet validated or resolved. */
  serverId: unknown;
  payload: Record<string, unknown>;
  id: CommandId | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The id to echo, if the body carries a usable one (a string up to 128 characters, or a finite number). */
export function extractId(body: unknown): CommandId | undefined {
  if (!isObject(body)) return undefined;
  const id = body.id;
  if (typeof id === 'string' && id.length <= 128) return id;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return undefined;
}

export function normalizeCommand(body: unknown): Command {
  if (!isObject(body)) throw new AgentError('INVALID_COMMAND', 'the command must be a JSON object');
  const id = extractId(body);
  if (body.action === undefined) throw new AgentError('INVALID_COMMAND', 'action: required');
  if (typeof body.action !== 'string') throw new AgentError('INVALID_COMMAND', 'action: must be a string');
  if (!ACTION_PATTERN.test(body.action)) {
    throw new AgentError('UNKNOWN_ACTION', `unknown action "${body.action.slice(0, 64)}"`);
  }
  const action = ACTION_ALIASES[body.action] ?? body.action;

  let payload: Record<string, unknown>;
  const rawPayload = body.payload;
  if (isObject(rawPayload)) payload = rawPayload;
  else if (rawPayload !== undefined && rawPayload !== null) {
    throw new AgentError('INVALID_PAYLOAD', 'payload: must be an object');
  } else if (isObject(body.data)) payload = body.data;
  else if (body.data !== undefined && body.data !== null)
    throw new AgentError('INVALID_PAYLOAD', 'data: must be an object');
  else payload = {};

  const serverId =
    body.serverId ??
    (isObject(rawPayload) ? rawPayload.serverId : undefined) ??
    (isObject(body.data) ? body.data.serverId : undefined);
  return { action, serverId, payload, id };
}
