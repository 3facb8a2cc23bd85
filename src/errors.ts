/**
 * The catalogue of every error a client can see (PROTOCOL.md §3.2). Handlers throw `AgentError`; the
 * transports turn it into their wire shape in one place (HTTP: `error` string + `code`; WebSocket:
 * `error: {code, message}`).
 */

export const ERROR_CATALOGUE = {
  // transport
  AUTH_FAILED: { httpStatus: 401, summary: 'missing or invalid bearer token' },
  BAD_REQUEST: { httpStatus: 400, summary: 'empty or unparseable request body' },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, summary: 'request body exceeds the configured limit' },
  NOT_FOUND: { httpStatus: 404, summary: 'no such route' },
  METHOD_NOT_ALLOWED: { httpStatus: 405, summary: 'method not allowed on this route' },
  RATE_LIMITED: { httpStatus: 429, summary: 'too many requests or failed authentications' },
  SHUTTING_DOWN: { httpStatus: 503, summary: 'the agent is shutting down' },
  // envelope
  INVALID_COMMAND: { httpStatus: 200, summary: 'the command is not an object or has no valid action' },
  UNKNOWN_ACTION: { httpStatus: 200, summary: 'the action is not known to this agent' },
  INVALID_SERVER_ID: { httpStatus: 200, summary: 'the server id is missing or malformed' },
  SERVER_NOT_FOUND: { httpStatus: 200, summary: 'no server with this id or alias on this node' },
  INVALID_PAYLOAD: { httpStatus: 200, summary: 'a payload field has the wrong type or value' },
  CONFIG_INVALID: { httpStatus: 200, summary: 'the configuration does not allow this action' },
  // files
  INVALID_PATH: { httpStatus: 200, summary: 'the path is malformed or names the root where it may not' },
  PATH_OUTSIDE_ROOT: { httpStatus: 200, summary: "the path escapes the server's directory" },
  FILE_NOT_FOUND: { httpStatus: 200, summary: 'no such file or directory' },
  ALREADY_EXISTS: { httpStatus: 200, summary: 'the destination already exists' },
  NOT_A_DIRECTORY: { httpStatus: 200, summary: 'a directory was expected' },
  IS_A_DIRECTORY: { httpStatus: 200, summary: 'a file was expected' },
  FILE_TOO_LARGE: { httpStatus: 200, summary: 'the file exceeds a size cap' },
  DISK_LIMIT: { httpStatus: 200, summary: "the write would exceed the server's disk limit" },
  // state
  INVALID_STATE: { httpStatus: 200, summary: "the server's state does not allow this action" },
  SERVER_BUSY: { httpStatus: 200, summary: 'a conflicting action is in progress' },
  SERVER_NOT_RUNNING: { httpStatus: 200, summary: 'the server is not running' },
  // runtime
  CONTAINER_NOT_FOUND: { httpStatus: 200, summary: "the server's container does not exist" },
  DOCKER_ERROR: { httpStatus: 200, summary: 'the Docker Engine returned an error' },
  DOCKER_UNAVAILABLE: { httpStatus: 200, summary: 'the Docker Engine cannot be reached' },
  IMAGE_PULL_FAILED: { httpStatus: 200, summary: 'the image could not be pulled and is not present locally' },
  PORT_CONFLICT: { httpStatus: 200, summary: 'a published port is already in use' },
  INSUFFICIENT_RESOURCES: { httpStatus: 200, summary: 'the host lacks the resources for this action' },
  PERMISSION_DENIED: { httpStatus: 200, summary: 'the operating system refused the operation' },
  TIMEOUT: { httpStatus: 200, summary: 'the action did not finish within the reply deadline' },
  INTERNAL_ERROR: { httpStatus: 200, summary: 'an unexpected error; details are in the agent log' },
} as const satisfies Record<string, { httpStatus: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CATALOGUE[this.code].httpStatus;
  }
}

/** Wraps anything thrown into an AgentError; unknown errors become INTERNAL_ERROR without leaking details. */
export function toAgentError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  return new AgentError('INTERNAL_ERROR', 'internal error; see the agent log', undefined, { cause: err });
}
