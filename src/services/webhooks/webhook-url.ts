import { isIP } from 'node:net';
import {
  DEFAULT_WEBHOOK_EVENTS,
  type JobWebhook,
  WEBHOOK_EVENTS,
  type WebhookEvent,
} from '../../domain/caller-webhook.js';
import { BadUserInputError } from '../../domain/errors.js';
import { isForbiddenAddress } from './address-policy.js';

// The webhook a caller gives at submit, checked before anything is stored or sent upstream. A literal IP address is
// judged here; a host name only at delivery time, on the address it resolves to then (DNS can change meanwhile).

const MAX_URL_LENGTH = 2048;
const URL_FIELD = 'input.webhook.url';

export interface WebhookUrlPolicy {
  /** WEBHOOK_ALLOW_PRIVATE: also http, and loopback or private addresses (tests and development only). */
  allowPrivate: boolean;
}

/** The host of a URL without IPv6 brackets. */
export const bareHost = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '');

/** Why a webhook URL is refused, or null when it is acceptable (the host's addresses are checked later). */
export function webhookUrlProblem(raw: string, policy: WebhookUrlPolicy): string | null {
  if (raw.length > MAX_URL_LENGTH) return `${URL_FIELD} must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${URL_FIELD} must be an absolute URL`;
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) return `${URL_FIELD} must be an https URL`;
  if (url.username || url.password) return `${URL_FIELD} must not carry a user name or password`;
  const host = bareHost(url);
  if (!policy.allowPrivate && isIP(host) !== 0 && isForbiddenAddress(host)) {
    return `${URL_FIELD} must not point at a loopback, private, link-local or metadata address`;
  }
  return null;
}

/** The submit's `webhook` argument as a JobWebhook, null when absent; throws BAD_USER_INPUT naming the field. */
export function parseWebhookInput(
  raw: { url: string; events?: readonly string[] | null | undefined } | null | undefined,
  policy: WebhookUrlPolicy,
): JobWebhook | null {
  if (raw === null || raw === undefined) return null;
  const problem = webhookUrlProblem(raw.url, policy);
  if (problem) throw new BadUserInputError(problem, URL_FIELD);
  const events = raw.events ?? DEFAULT_WEBHOOK_EVENTS;
  const unknown = events.find((event) => !(WEBHOOK_EVENTS as readonly string[]).includes(event));
  if (unknown !== undefined) {
    throw new BadUserInputError(
      `input.webhook.events may hold only ${WEBHOOK_EVENTS.join(', ')} (not ${unknown})`,
      'input.webhook.events',
    );
  }
  if (events.length === 0)
    throw new BadUserInputError('input.webhook.events must not be empty', 'input.webhook.events');
  return { url: raw.url, events: [...new Set(events as readonly WebhookEvent[])] };
}
