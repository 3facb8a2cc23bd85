import type { Logger } from 'pino';
import type { AgentError, ErrorCode } from './errors.js';

/**
 * What level a failure gets, in one place. Our own bugs and Engine failures are errors (someone must look);
 * an expected refusal of bad input is not worth more than debug on the request path, a warning in background
 * work (nobody awaits the reply there, so the log is how an operator learns of it).
 */
const OPERATOR_ATTENTION: ReadonlySet<ErrorCode> = new Set(['INTERNAL_ERROR', 'DOCKER_ERROR', 'DOCKER_UNAVAILABLE']);

export function logFailure(
  log: Logger,
  error: AgentError,
  message: string,
  where: 'request' | 'background',
  fields: Record<string, unknown> = {},
): void {
  if (error.code === 'INTERNAL_ERROR') log.error({ ...fields, err: error.cause ?? error }, message);
  else if (OPERATOR_ATTENTION.has(error.code))
    log.error({ ...fields, code: error.code, reason: error.message }, message);
  else if (where === 'background') log.warn({ ...fields, code: error.code, reason: error.message }, message);
  else log.debug({ ...fields, code: error.code, reason: error.message }, message);
}
