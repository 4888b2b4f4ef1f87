import { randomUUID } from 'node:crypto';
import { createLogger, type Logger } from '../lib/logger.js';

// The last line of defence, installed by main.ts before anything starts. A promise nobody handled is a bug, but
// one that has already happened: the work it belonged to is lost either way, and exiting would also cut every
// other caller's subscriptions. So it is logged, with an id to find it by, and the process carries on.
//
// An uncaught exception is left to Node's default (print, exit 1): it was thrown synchronously out of a callback,
// so the code around it stopped half way and may have left shared state (a queue, a lease table, a socket)
// inconsistent. Carrying on would serve from that state; a restart by the supervisor starts from a clean one.

/** Logs every unhandled rejection at error with a `correlationId`, instead of exiting. */
export function installProcessGuards(logLevel: string, logger: Logger = createLogger(logLevel)): void {
  const log = logger.child({ component: 'process' });
  process.on('unhandledRejection', (reason: unknown) => {
    log.error({ err: reason, correlationId: randomUUID() }, 'unhandled rejection; the process keeps running');
  });
}
