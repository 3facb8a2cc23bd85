import { AgentError } from '../errors.js';

interface DockerodeError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** The Engine's own message, without dockerode's "(HTTP code 500) server error - " prefix. */
export function engineMessage(err: unknown): string {
  const e = err as DockerodeError;
  return e?.json?.message ?? e?.message ?? String(err);
}

export function isDockerUnreachable(err: unknown): boolean {
  const e = err as DockerodeError;
  return (e?.code !== undefined && UNREACHABLE_CODES.has(e.code)) || e instanceof DockerTimeoutError;
}

export function isNotFound(err: unknown): boolean {
  return (err as DockerodeError)?.statusCode === 404;
}

export function isConflict(err: unknown): boolean {
  return (err as DockerodeError)?.statusCode === 409;
}

export class DockerTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`Docker did not answer ${what} within ${ms} ms`);
    this.name = 'DockerTimeoutError';
  }
}

/**
 * A call the Engine did not answer within its deadline. A slow Engine is not an unreachable one: the work may
 * still happen (issue 13: starts answered after 20 s, containers up a second later), so a power action that meets
 * one asks the container's own state instead of deciding from the error.
 */
export function isDockerTimeout(err: unknown): boolean {
  return err instanceof DockerTimeoutError || (err instanceof AgentError && err.cause instanceof DockerTimeoutError);
}

/** Maps an Engine failure to the catalogue: unreachable, port clash, missing container or a plain error. */
export function toDockerAgentError(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err;
  const message = engineMessage(err);
  if (isDockerUnreachable(err)) {
    return new AgentError(
      'DOCKER_UNAVAILABLE',
      `Docker Engine unreachable while trying to ${what}: ${message}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  if (/port is already allocated|address already in use/i.test(message)) {
    return new AgentError('PORT_CONFLICT', `cannot ${what}: ${message}`, undefined, { cause: err });
  }
  if (isNotFound(err))
    return new AgentError('CONTAINER_NOT_FOUND', `cannot ${what}: ${message}`, undefined, { cause: err });
  return new AgentError('DOCKER_ERROR', `cannot ${what}: ${message}`, undefined, { cause: err });
}
