import type { DisposerStack } from '../lib/disposer-stack.js';
import type { Logger } from '../lib/logger.js';
import { renderWebhookJob } from '../schema/webhook-payload.js';
import type { JobStore } from '../services/store/job-store.js';
import { CallerWebhooks } from '../services/webhooks/caller-webhooks.js';
import { WebhookDeliverer } from '../services/webhooks/webhook-deliverer.js';
import type { Config } from './config.js';

// Callers' webhooks: the API's side (checks at submit, secrets, attempts) and the outbox's sender, which starts
// with listen() and stops before the store closes.

export function wireCallerWebhooks(config: Config, store: JobStore, logger: Logger, disposers: DisposerStack) {
  const { allowPrivate, retryBaseMs, timeoutMs } = config.webhooks;
  const webhooks = new CallerWebhooks({ store: store.callers, policy: { allowPrivate } });
  const deliverer = new WebhookDeliverer({
    store: store.callers,
    render: renderWebhookJob,
    logger: logger.child({ component: 'webhooks' }),
    allowPrivate,
    retry: { baseMs: retryBaseMs },
    timeoutMs,
  });
  if (allowPrivate) {
    logger.warn(
      'WEBHOOK_ALLOW_PRIVATE=true: callers’ webhooks may reach loopback and private addresses, over http too',
    );
  }
  return {
    webhooks,
    start() {
      deliverer.start();
      disposers.add('webhook deliverer', () => deliverer.stop());
    },
  };
}
