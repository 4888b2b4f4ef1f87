import { builder } from './builder.js';
import { AiEditJobStatusEnum } from './enums.js';

// The webhook a submit may name (SubmitAiEditInput.webhook); checked by services/webhooks/webhook-url.ts.

export const AiEditWebhookInput = builder.inputType('AiEditWebhookInput', {
  description:
    'Where to POST the job when it reaches one of `events`, signed per Standard Webhooks (webhook-id, ' +
    'webhook-timestamp, webhook-signature) with your secret from rotateWebhookSecret; retried for about 2 hours.',
  fields: (t) => ({
    url: t.string({
      required: true,
      description:
        'An https URL, at most 2048 characters, on a public address (no loopback, private, link-local or metadata ' +
        'address, checked again on the resolved address at each delivery).',
    }),
    events: t.field({
      type: [AiEditJobStatusEnum],
      description:
        'The statuses to call it for: any of DONE, ERROR, CANCELLED and PROCESSING; default the final three.',
    }),
  }),
});
