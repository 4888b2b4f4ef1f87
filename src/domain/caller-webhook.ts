import type { AiEditRequest, JobStatus } from './job.js';

// A caller's webhook on a job, and what a job costs in Claid's currency. Free of GraphQL and of the store.

/** The statuses a webhook may be called for: every final one, and PROCESSING. */
export const WEBHOOK_EVENTS = ['PROCESSING', 'DONE', 'ERROR', 'CANCELLED'] as const satisfies readonly JobStatus[];
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** Without `events`, a webhook is called when the job ends. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ['DONE', 'ERROR', 'CANCELLED'];

/** Where and for which statuses a job's changes are POSTed (validated: see services/webhooks/webhook-url.ts). */
export interface JobWebhook {
  url: string;
  events: readonly WebhookEvent[];
}

/** One try at delivering one event; `httpStatus` null when no answer came (refused address, timeout, cut). */
export interface WebhookAttempt {
  /** The Standard Webhooks `webhook-id`: the same for every attempt at one event. */
  webhookId: string;
  jobId: string;
  event: JobStatus;
  attempt: number;
  at: Date;
  httpStatus: number | null;
  error: string | null;
}

/** Claid charges 2 credits per output image (claid-facts.md); numberOfImages defaults to 1. */
export const CREDITS_PER_IMAGE = 2;
export const creditsFor = (request: Pick<AiEditRequest, 'output'>): number =>
  CREDITS_PER_IMAGE * (request.output?.numberOfImages ?? 1);

/** Midnight UTC starting the day of `at`: credit budgets are per UTC day. */
export function utcDayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}
