import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isForbiddenAddress } from './address-policy.js';
import { bareHost } from './webhook-url.js';

// One POST of one signed event. The host name is resolved by our own lookup, which checks every address and hands
// the socket only the ones it checked: the connection goes to the address judged, not to a second answer an
// attacker's DNS gives a moment later (DNS rebinding). TLS still verifies the certificate against the host name.
// Redirects are not followed (a 3xx is a failed attempt): a redirect could point anywhere.

export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError';
}

export interface WebhookPost {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** At most this much of an answer is read (and thrown away): the status is all that counts. */
const MAX_ANSWER_BYTES = 64 * 1024;

function checkedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const allowed = allowPrivate ? found : found.filter((entry) => !isForbiddenAddress(entry.address));
      if (allowed.length === 0) {
        const refusal = new ForbiddenAddressError(
          `${hostname} resolves only to loopback, private, link-local or metadata addresses`,
        );
        return callback(Object.assign(refusal, { code: 'EFORBIDDENADDRESS' }), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      const first = allowed[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

/** POSTs the event; resolves with the HTTP status, rejects when no answer came (refused address, timeout, cut). */
export function postWebhook(post: WebhookPost): Promise<number> {
  const url = new URL(post.url);
  const host = bareHost(url);
  if (!post.allowPrivate && isIP(host) !== 0 && isForbiddenAddress(host)) {
    return Promise.reject(new ForbiddenAddressError(`${host} is a loopback, private, link-local or metadata address`));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...post.headers, 'content-length': Buffer.byteLength(post.body) },
        lookup: checkedLookup(post.allowPrivate),
        signal: AbortSignal.timeout(post.timeoutMs),
        agent: false,
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        response.on('close', () => resolve(response.statusCode ?? 0));
        response.on('error', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(post.body);
  });
}
