import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DisposerStack } from '../lib/disposer-stack.js';
import type { Logger } from '../lib/logger.js';
import type { Tracer } from '../lib/spans.js';
import { ClaidWebhookIntake } from '../services/jobs/claid-webhook-intake.js';
import type { JobPubSub } from '../services/jobs/job-events.js';
import type { JobRefresher } from '../services/jobs/job-refresher.js';
import type { PushedJobs } from '../services/jobs/pushed-jobs.js';
import type { JobStore } from '../services/store/job-store.js';
import { handleClaidWebhook, type WebhookResult } from '../transport/claid-webhook.js';
import type { Config } from './config.js';
import type { Upstream } from './upstream.js';

// Webhook intake: the route's handler, and every instance hearing that a job's state was pushed (on whichever
// instance the webhook landed), so that its poller reads the job only as reconciliation.

export { CLAID_WEBHOOK_PATH } from '../transport/claid-webhook.js';

export interface ClaidWebhookWiring {
  config: Config;
  upstream: Pick<Upstream, 'webhookSecret'>;
  store: JobStore;
  refresher: JobRefresher;
  events: JobPubSub;
  /** What the poller asks (isPushed) to read a job only as reconciliation. */
  pushedJobs: PushedJobs;
  logger: Logger;
  disposers: DisposerStack;
  onResult?: (result: WebhookResult) => void;
  tracer?: Tracer;
}

export function wireClaidWebhook(
  wiring: ClaidWebhookWiring,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { config, upstream, store, refresher, events, pushedJobs, disposers } = wiring;
  const logger = wiring.logger.child({ component: 'claid-webhook' });
  const intake = new ClaidWebhookIntake({ store, refresher, events, logger });
  const pushes = events.subscribe('job:pushed');
  void (async () => {
    for await (const job of pushes) pushedJobs.note(job);
  })().catch((err: unknown) => logger.error({ err }, 'stopped hearing pushed jobs'));
  disposers.add('pushed-job listener', async () => {
    await pushes.return?.();
  });
  const options = {
    intake,
    secret: upstream.webhookSecret,
    signatureHeader: config.webhook.signatureHeader,
    maxBodyBytes: config.webhook.maxBodyBytes,
    logger,
    ...(wiring.onResult ? { onResult: wiring.onResult } : {}),
    ...(wiring.tracer ? { tracer: wiring.tracer } : {}),
  };
  return (req, res) => handleClaidWebhook(req, res, options);
}
