import { startGateway } from './gateway/build-gateway.js';
import { ConfigError, loadConfig } from './gateway/config.js';
import { installProcessGuards } from './gateway/process-guards.js';
import { processLogger } from './gateway/process-logger.js';
import { startFailureLine } from './gateway/start-errors.js';

// Reads configuration, guards the process (gateway/process-guards.ts), starts the gateway, and stops it gracefully
// on SIGTERM or SIGINT. Nothing else.

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const logger = processLogger(config, process.stdout.isTTY === true);
installProcessGuards(config.logLevel, logger);

try {
  const gateway = await startGateway(config, { logger });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      gateway.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
} catch (error) {
  console.error(startFailureLine(error));
  // No process.exit: a failed start has closed what it opened, so the process ends by itself once the loop drains.
  process.exitCode = 1;
}
