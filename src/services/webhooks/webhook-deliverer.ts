import { Webhook } from 'standardwebhooks';
import type { Job } from '../../domain/job.js';
import type { Logger } from '../../lib/logger.js';
import type { CallerStore, ClaimedDelivery } from '../store/caller-store.js';
import { DEFAULT_RETRY_POLICY, nextAfterAttempt, type RetryPolicy } from './retry-schedule.js';
import { postWebhook } from './webhook-sender.js';

// Sends the webhook outbox. Every instance runs one; each delivery is leased in the store before its attempt is
// recorded and sent, so one instance sends each attempt (PostgreSQL SKIP LOCKED; SQLite transactions take turns).
// A sender that dies mid-attempt leaves its lease to run out: the next attempt (same webhook-id) follows it.

export interface WebhookDelivererOptions {
  store: CallerStore;
  /** The event body's job: the fixed selection of the subscription's event (schema/webhook-payload.ts). */
  render(job: Job): Promise<unknown>;
  logger: Logger;
  /** WEBHOOK_ALLOW_PRIVATE: also http and loopback/private addresses (tests and development). */
  allowPrivate: boolean;
  retry?: Partial<RetryPolicy>;
  /** One attempt's limit. Default 10 s. */
  timeoutMs?: number;
  /** How long a claimed delivery is this sender's; well over timeoutMs. Default 6 x timeoutMs. */
  leaseMs?: number;
  /** How often the outbox is looked at. Default a quarter of the retry base, between 25 ms and 1 s. */
  pollIntervalMs?: number;
  /** Deliveries claimed at once. Default 20. */
  batchSize?: number;
  now?: () => Date;
}

export class WebhookDeliverer {
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: WebhookDelivererOptions) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? this.timeoutMs * 6;
    this.pollIntervalMs = options.pollIntervalMs ?? Math.min(1000, Math.max(25, this.policy.baseMs / 4));
    this.batchSize = options.batchSize ?? 20;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops looking; attempts under way finish (each within timeoutMs) and are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.round().then((full) => this.schedule(full ? 0 : this.pollIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /** One look at the outbox; true when it was full (more may be due). */
  private async round(): Promise<boolean> {
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.options.store.claimDueDeliveries(this.now(), this.leaseMs, this.batchSize);
    } catch (err) {
      this.options.logger.warn({ err }, 'could not read the webhook outbox; trying again');
      return false;
    }
    await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
    return claimed.length === this.batchSize;
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { logger } = this.options;
    const log = { webhookId: delivery.webhookId, jobId: delivery.jobId, attempt: delivery.attempt };
    let httpStatus: number | null = null;
    let error: string | null = null;
    try {
      httpStatus = await this.send(delivery);
      if (httpStatus < 200 || httpStatus >= 300) error = `HTTP ${httpStatus}`;
    } catch (err) {
      error = describe(err);
    }
    const at = this.now();
    const next = nextAfterAttempt(this.policy, delivery.attempt, httpStatus, delivery.createdAt, at);
    try {
      const recorded = await this.options.store.finishAttempt(delivery, { at, httpStatus, error }, next);
      if (!recorded) logger.warn(log, 'a webhook attempt outlived its lease; the next attempt is already recorded');
    } catch (err) {
      // The lease runs out and the delivery is tried again: at least once, never lost.
      logger.warn({ ...log, err }, 'could not record a webhook attempt; it is retried once its lease ends');
    }
    const level = next.state === 'FAILED' ? 'warn' : 'info';
    logger[level]({ ...log, httpStatus, error, outcome: next.state }, 'webhook attempt');
  }

  private async send(delivery: ClaimedDelivery): Promise<number> {
    const secret = await this.options.store.webhookSecret(delivery.owner);
    if (secret === null) throw new Error('the caller has no webhook secret (rotateWebhookSecret makes one)');
    const body = JSON.stringify({
      type: `aiEditJob.${delivery.event}`,
      timestamp: delivery.job.updatedAt.toISOString(),
      data: { aiEditJobUpdated: await this.options.render(delivery.job) },
    });
    const sentAt = this.now();
    const signature = new Webhook(secret).sign(delivery.webhookId, sentAt, body);
    return postWebhook({
      url: delivery.url,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'ai-edit-gateway-webhooks',
        'webhook-id': delivery.webhookId,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': signature,
      },
      timeoutMs: this.timeoutMs,
      allowPrivate: this.options.allowPrivate,
    });
  }
}

/** An attempt's error as stored and shown on the job: the failure's own words, never a header or the secret. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const text = err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timed out' : err.message;
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(err);
}
