import { type Logger, pino } from 'pino';
import { currentRequestId } from './request-scope.js';

export type { Logger };

// Secrets never reach a log line: redact every place an API key or bearer token could sit.
const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'config.claid.apiKey',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Every line written while serving a request names it (src/lib/request-scope.ts).
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
    },
    destination,
  );
}

/**
 * Human-readable lines for a person at a terminal: pino-pretty in pino's worker thread, so formatting never slows
 * the event loop. Anything else (a pipe, a file, a log collector) gets pino's JSON.
 */
export function prettyDestination(): pino.DestinationStream {
  return pino.transport({
    target: 'pino-pretty',
    options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
  });
}
