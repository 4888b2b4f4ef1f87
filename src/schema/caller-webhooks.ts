import type { WebhookAttempt } from '../domain/caller-webhook.js';
import type { Job } from '../domain/job.js';
import { rotateWebhookSecret, webhookAttempts, webhookAttemptsKey } from '../resolvers/caller-webhooks.js';
import { AiEditJob } from './ai-edit-job.js';
import { builder } from './builder.js';
import { AiEditJobStatusEnum } from './enums.js';

// A job's webhook attempts (AiEditJob.webhookDeliveries) and the caller's signing secret (rotateWebhookSecret).

const AiEditWebhookDelivery = builder.objectRef<WebhookAttempt>('AiEditWebhookDelivery').implement({
  description: 'One attempt at POSTing one event of the job to its webhook.',
  fields: (t) => ({
    webhookId: t.exposeString('webhookId', {
      description: 'The `webhook-id` header: the same for every attempt at one event, so a receiver can drop repeats.',
    }),
    event: t.field({
      type: AiEditJobStatusEnum,
      description: 'The status the event reports.',
      resolve: (a) => a.event,
    }),
    attempt: t.exposeInt('attempt', { description: 'Which attempt at this event, 1 for the first.' }),
    at: t.field({ type: 'DateTime', description: 'When the attempt began.', resolve: (a) => a.at }),
    status: t.exposeInt('httpStatus', {
      nullable: true,
      description:
        "The receiver's HTTP status; null while the attempt is under way or when no answer came (see error).",
    }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why the attempt failed (HTTP 500, timed out, refused address, ...); null when it succeeded.',
    }),
  }),
});

builder.objectField(AiEditJob, 'webhookDeliveries', (t) =>
  t.loadableList({
    type: AiEditWebhookDelivery,
    description:
      'Every attempt at delivering this job to its webhook, oldest first; empty without a webhook or before the ' +
      'first event. 2xx ends an event, 410 stops it, anything else is retried with growing gaps for about 2 hours.',
    load: (ids: string[], ctx) => webhookAttempts(ctx, ids),
    resolve: (job: Job, _args, ctx) => webhookAttemptsKey(ctx, job),
  }),
);

builder.mutationFields((t) => ({
  rotateWebhookSecret: t.string({
    description:
      'Makes a new Standard Webhooks signing secret (`whsec_…`) for your webhooks and returns it: the only time it ' +
      'is shown. It signs every delivery from now on, also retries of earlier events; the old one stops at once.',
    resolve: (_root, _args, ctx) => rotateWebhookSecret(ctx),
  }),
}));
