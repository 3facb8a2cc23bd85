import pino, { type Logger } from 'pino';

/**
 * The root logger. Secrets are redacted by path so a token can never reach a log line by accident; payloads
 * are never logged by the dispatcher in the first place.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'ctrl-alt-play-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'token',
          '*.token',
          'apiToken',
          '*.apiToken',
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          'payload.content',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
