import { createLogger, type Logger, prettyDestination } from '../lib/logger.js';
import type { Config } from './config.js';

/**
 * The running process's logger. LOG_FORMAT decides; unset, a person at a terminal gets readable lines and anything
 * else (a pipe, a container's log driver, a test) gets JSON. Tests build their own loggers and never reach this.
 */
export function processLogger(config: Config, stdoutIsTerminal: boolean): Logger {
  const format = config.logFormat ?? (stdoutIsTerminal ? 'pretty' : 'json');
  return createLogger(config.logLevel, format === 'pretty' ? prettyDestination() : undefined);
}
