import { describe, expect, it } from 'vitest';
import { AgentError, ERROR_CATALOGUE, type ErrorCode } from '../../../src/errors.js';
import { frameErrorBody, httpError, httpReplyBody, httpStatusOf } from '../../../src/protocol/wire-error.js';

describe('the one error-to-wire mapping', () => {
  it('uses the catalogue status for the command API, 200 for every action failure', () => {
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      expect(httpStatusOf(new AgentError(code, 'x'), 'command')).toBe(ERROR_CATALOGUE[code].httpStatus);
    }
    expect(httpStatusOf(new AgentError('FILE_NOT_FOUND', 'x'), 'command')).toBe(200);
  });

  it('answers like an HTTP resource on the file route', () => {
    const status = (code: ErrorCode) => httpStatusOf(new AgentError(code, 'x'), 'resource');
    expect(status('AUTH_FAILED')).toBe(401);
    expect(status('SERVER_NOT_FOUND')).toBe(404);
    expect(status('FILE_NOT_FOUND')).toBe(404);
    expect(status('RATE_LIMITED')).toBe(429);
    expect(status('INTERNAL_ERROR')).toBe(500);
    expect(status('DISK_LIMIT')).toBe(400);
    expect(status('PATH_OUTSIDE_ROOT')).toBe(400);
  });

  it('gives HTTP a string error and code, and frames an object with details only when present', () => {
    const error = new AgentError('DISK_LIMIT', 'full', { limit: 1 });
    expect(httpError(error, 'resource')).toEqual({
      status: 400,
      body: { success: false, error: 'full', code: 'DISK_LIMIT' },
    });
    expect(frameErrorBody(error)).toEqual({ code: 'DISK_LIMIT', message: 'full', details: { limit: 1 } });
    expect(frameErrorBody(new AgentError('TIMEOUT', 't'))).toEqual({ code: 'TIMEOUT', message: 't' });
  });

  it('hides an unknown error behind INTERNAL_ERROR', () => {
    expect(httpError(new Error('secret detail'), 'command')).toEqual({
      status: 200,
      body: { success: false, error: 'internal error; see the agent log', code: 'INTERNAL_ERROR' },
    });
  });

  it('echoes the request id on a failed reply and passes a success through', () => {
    expect(httpReplyBody({ id: 7, success: false, error: new AgentError('TIMEOUT', 't') })).toEqual({
      id: 7,
      success: false,
      error: 't',
      code: 'TIMEOUT',
    });
    expect(httpReplyBody({ success: false, error: new AgentError('TIMEOUT', 't') })).not.toHaveProperty('id');
    expect(httpReplyBody({ success: true, data: { a: 1 } })).toEqual({ success: true, data: { a: 1 } });
  });
});
