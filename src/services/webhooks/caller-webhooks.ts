import type { JobWebhook, WebhookAttempt } from '../../domain/caller-webhook.js';
import { BadUserInputError } from '../../domain/errors.js';
import type { CallerStore } from '../store/caller-store.js';
import { newWebhookSecret } from './webhook-secret.js';
import { parseWebhookInput, type WebhookUrlPolicy } from './webhook-url.js';

// What the API does with callers' webhooks: check one at submit, rotate a caller's secret, show a job's attempts.

export interface WebhookInput {
  url: string;
  events?: readonly string[] | null | undefined;
}

export class CallerWebhooks {
  constructor(private readonly deps: { store: CallerStore; policy: WebhookUrlPolicy; now?: () => Date }) {}

  /**
   * The submit's webhook, validated (BAD_USER_INPUT naming the field) before anything is stored or sent upstream;
   * null when there is none. A caller without a secret is told to make one first: nothing could be signed.
   */
  async prepare(owner: string, raw: WebhookInput | null | undefined): Promise<JobWebhook | null> {
    const webhook = parseWebhookInput(raw, this.deps.policy);
    if (webhook && (await this.deps.store.webhookSecret(owner)) === null) {
      throw new BadUserInputError(
        'input.webhook needs a signing secret: call the rotateWebhookSecret mutation once, and keep what it returns',
        'input.webhook',
      );
    }
    return webhook;
  }

  /** A new secret for the owner, replacing the old one for every delivery from now on (also those pending). */
  async rotateSecret(owner: string): Promise<string> {
    const secret = newWebhookSecret();
    await this.deps.store.setWebhookSecret(owner, secret, (this.deps.now ?? (() => new Date()))());
    return secret;
  }

  async hasSecret(owner: string): Promise<boolean> {
    return (await this.deps.store.webhookSecret(owner)) !== null;
  }

  /** Every attempt at each job's events, oldest first; the caller's ownership of the jobs is checked by the reader. */
  attempts(jobIds: readonly string[]): Promise<WebhookAttempt[][]> {
    return this.deps.store.listWebhookAttempts(jobIds);
  }
}
