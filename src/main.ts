import { startGateway } from './gateway/build-gateway.js';
import { ConfigError, loadConfig } from './gateway/config.js';

// Reads configuration, starts the gateway, and stops it gracefully on SIGTERM or SIGINT. Nothing else.

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

const gateway = await startGateway(config);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    gateway.logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
