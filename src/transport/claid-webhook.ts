import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.js';
import { inSpan, SpanKind, type Tracer } from '../lib/spans.js';
import type { ClaidWebhookIntake } from '../services/jobs/claid-webhook-intake.js';
import { claidEnvelopeSchema } from '../services/upstream/claid-mapping.js';
import { verifyWebhookSignature } from '../services/upstream/webhook-signature.js';

// POST /webhooks/claid: Claid's notification of a task's status. The body is read up to a limit and its signature
// checked before anything is parsed, so an oversized or forged notification costs nothing and changes nothing.
// Answers are JSON, short, and never echo the body.

export const CLAID_WEBHOOK_PATH = '/webhooks/claid';

export interface ClaidWebhookOptions {
  intake: Pick<ClaidWebhookIntake, 'receive'>;
  /** The HMAC-SHA256 key; undefined: webhooks are off (404), since an unsigned push could forge a result. */
  secret: string | undefined;
  /** Lower-case header name carrying the signature. */
  signatureHeader: string;
  maxBodyBytes: number;
  logger: Logger;
  /** Told how each notification ended (metrics). */
  onResult?: (result: WebhookResult) => void;
  /** A span per notification when set. */
  tracer?: Tracer;
}

/** How a notification ended: a fixed set, fit for a metric label. */
export type WebhookResult =
  | { accepted: true; reason: 'applied' | 'ignored' }
  | {
      accepted: false;
      reason:
        | 'off'
        | 'method'
        | 'too_large'
        | 'read_failed'
        | 'bad_signature'
        | 'not_json'
        | 'not_a_task'
        | 'store_failed';
    };

type Body = { kind: 'read'; bytes: Buffer } | { kind: 'too-large' } | { kind: 'failed' };

function readLimited(req: IncomingMessage, maxBytes: number): Promise<Body> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.pause();
        resolve({ kind: 'too-large' });
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve({ kind: 'read', bytes: Buffer.concat(chunks) }));
    req.once('error', () => resolve({ kind: 'failed' }));
  });
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // The rest of an unread body is not worth receiving: end the connection instead.
  if (close) headers.connection = 'close';
  res.writeHead(status, headers).end(JSON.stringify(body));
}

/** Handles one request to CLAID_WEBHOOK_PATH; never rejects. */
export async function handleClaidWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  options: ClaidWebhookOptions,
): Promise<void> {
  const result = await inSpan(options.tracer, 'webhook.claid', { kind: SpanKind.SERVER }, async (span) => {
    const ended = await intake(req, res, options);
    span?.setAttributes({ 'webhook.accepted': ended.accepted, 'webhook.result': ended.reason });
    return ended;
  });
  options.onResult?.(result);
}

const refused = (reason: Extract<WebhookResult, { accepted: false }>['reason']): WebhookResult => ({
  accepted: false,
  reason,
});

async function intake(req: IncomingMessage, res: ServerResponse, options: ClaidWebhookOptions): Promise<WebhookResult> {
  const { logger, secret } = options;
  if (!secret) {
    answer(res, 404, { error: 'webhooks are off: set CLAID_WEBHOOK_SECRET' });
    return refused('off');
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    answer(res, 405, { error: 'method not allowed' });
    return refused('method');
  }
  const body = await readLimited(req, options.maxBodyBytes);
  if (body.kind === 'too-large') {
    logger.warn({ maxBodyBytes: options.maxBodyBytes }, 'webhook refused: body too large');
    answer(res, 413, { error: `body larger than ${options.maxBodyBytes} bytes` }, true);
    return refused('too_large');
  }
  if (body.kind === 'failed') {
    res.destroy();
    return refused('read_failed');
  }
  const header = req.headers[options.signatureHeader];
  const signature = Array.isArray(header) ? header.join(',') : header;
  if (!verifyWebhookSignature(body.bytes, signature, secret)) {
    logger.warn({ signed: signature !== undefined }, 'webhook refused: missing or bad signature');
    answer(res, 401, { error: 'missing or bad signature' });
    return refused('bad_signature');
  }
  let envelope: { data: unknown };
  try {
    const parsed = claidEnvelopeSchema.safeParse(JSON.parse(body.bytes.toString('utf8')));
    if (!parsed.success) throw new Error('no data object');
    envelope = parsed.data;
  } catch (error) {
    logger.warn({ err: error }, 'webhook refused: not JSON with a data object');
    answer(res, 400, { error: 'expected JSON {"data": {...}}' });
    return refused('not_json');
  }
  try {
    const outcome = await options.intake.receive(envelope.data);
    if (outcome.kind === 'invalid') {
      logger.warn({ reason: outcome.reason }, 'webhook refused: not a Claid task');
      answer(res, 400, { error: outcome.reason });
      return refused('not_a_task');
    }
    logger.debug({ ...outcome }, 'webhook received');
    answer(res, 200, { ok: true, outcome: outcome.kind });
    return { accepted: true, reason: outcome.kind };
  } catch (error) {
    // A store that failed: 5xx, so that a sender that retries does.
    logger.error({ err: error }, 'webhook could not be applied');
    answer(res, 503, { error: 'could not apply the notification' });
    return refused('store_failed');
  }
}
