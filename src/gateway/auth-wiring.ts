import type { DisposerStack } from '../lib/disposer-stack.js';
import type { Logger } from '../lib/logger.js';
import { type Authenticator, createAuthenticator } from '../services/auth/authenticator.js';
import type { Config } from './config.js';

/** The caller authenticator for AUTH_MODE, closed with the gateway; says at start how callers are let in. */
export function openAuthenticator(config: Config, logger: Logger, disposers: DisposerStack): Authenticator {
  const authLogger = logger.child({ component: 'auth' });
  const authenticator = createAuthenticator(config.auth, {
    log: (level, message, details) => authLogger[level](details ?? {}, message),
  });
  disposers.add('authenticator', () => authenticator.close());
  if (config.auth.mode === 'none' && config.auth.allowAnonymous) {
    authLogger.warn(
      { host: config.host },
      'AUTH_MODE=none with ALLOW_ANONYMOUS=true: anyone who reaches the port can spend upstream credits',
    );
  } else {
    authLogger.info({ mode: config.auth.mode }, 'caller authentication');
  }
  return authenticator;
}
