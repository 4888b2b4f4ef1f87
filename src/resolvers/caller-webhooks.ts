import type { WebhookAttempt } from '../domain/caller-webhook.js';
import type { Job } from '../domain/job.js';
import type { ResolverContext } from './resolver-context.js';

// Callers' webhooks as the schema asks for them.

/**
 * The key a job's attempts are loaded by. Attempts go on after a job is final, so an answer that shows them is
 * never kept by the read cache (which keeps answers made only of final jobs).
 */
export function webhookAttemptsKey(ctx: ResolverContext, job: Job): string {
  ctx.readTracker?.uncacheable();
  return job.id;
}

/** Attempts of jobs the schema already loaded for this owner (so their ownership is checked). */
export const webhookAttempts = (ctx: ResolverContext, jobIds: readonly string[]): Promise<WebhookAttempt[][]> =>
  ctx.services.webhooks.attempts(jobIds);

export const rotateWebhookSecret = (ctx: ResolverContext): Promise<string> =>
  ctx.services.webhooks.rotateSecret(ctx.owner);
