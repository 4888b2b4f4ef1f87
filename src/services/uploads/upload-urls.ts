import { createHmac, timingSafeEqual } from 'node:crypto';

// Signed, expiring links to uploads: GET <PUBLIC_URL>/uploads/<sha256>?owner=<owner>&expires=<unix s>&sig=<hex>,
// sig = HMAC-SHA256(secret, "<sha256>\n<owner>\n<expires>"). The secret is UPLOAD_URL_SECRET, or one the store
// keeps (made once by the first instance that needs it), so that any instance serves a link another signed.

export const UPLOADS_PATH = '/uploads/';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface UploadLink {
  sha256: string;
  owner: string;
  expiresAt: Date;
}

export type LinkCheck =
  | { ok: true; link: UploadLink }
  /** 404: not a link to an upload at all. */
  | { ok: false; reason: 'not-an-upload' }
  /** 403: missing, forged or expired signature. */
  | { ok: false; reason: 'bad-signature' | 'expired' };

export class UploadUrls {
  constructor(private readonly secret: () => Promise<string>) {}

  /** The link to `sha256` as `owner`'s, under `publicUrl`, valid until `expiresAt` (whole seconds, rounded down). */
  async sign(publicUrl: string, link: UploadLink): Promise<{ url: string; expiresAt: Date }> {
    const expires = Math.floor(link.expiresAt.getTime() / 1000);
    const sig = mac(await this.secret(), link.sha256, link.owner, expires);
    const url = new URL(`${UPLOADS_PATH.slice(1)}${link.sha256}`, withSlash(publicUrl));
    url.search = new URLSearchParams({ owner: link.owner, expires: String(expires), sig }).toString();
    return { url: url.toString(), expiresAt: new Date(expires * 1000) };
  }

  /** Checks a request's path and query (`/uploads/<sha256>?...`) at `now`. */
  async verify(pathAndQuery: string, now: Date): Promise<LinkCheck> {
    const url = new URL(pathAndQuery, 'http://gateway.invalid');
    const sha256 = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    if (!url.pathname.startsWith(UPLOADS_PATH) || !SHA256_HEX.test(sha256))
      return { ok: false, reason: 'not-an-upload' };
    const owner = url.searchParams.get('owner');
    const expires = Number(url.searchParams.get('expires'));
    const sig = url.searchParams.get('sig') ?? '';
    if (owner === null || !Number.isSafeInteger(expires) || !/^[0-9a-f]{64}$/.test(sig)) {
      return { ok: false, reason: 'bad-signature' };
    }
    const expected = Buffer.from(mac(await this.secret(), sha256, owner, expires), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'bad-signature' };
    if (expires * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
    return { ok: true, link: { sha256, owner, expiresAt: new Date(expires * 1000) } };
  }
}

function mac(secret: string, sha256: string, owner: string, expires: number): string {
  return createHmac('sha256', secret).update(`${sha256}\n${owner}\n${expires}`).digest('hex');
}

/** So that a PUBLIC_URL with a path (https://example.com/gateway) keeps it. */
const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);
