import { randomBytes } from 'node:crypto';

// A Standard Webhooks signing secret: `whsec_` and base64 of 32 random bytes (the format the standardwebhooks
// libraries take). Shown to its caller once, by rotateWebhookSecret; never logged.

export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
