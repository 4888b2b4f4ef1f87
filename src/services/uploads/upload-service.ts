import { createHash, randomBytes } from 'node:crypto';
import { BadUserInputError } from '../../domain/errors.js';
import type { StoredUpload, UploadedImage } from '../../domain/upload.js';
import type { Logger } from '../../lib/logger.js';
import type { UploadStore } from '../store/upload-store.js';
import { identifyImage } from './image-check.js';
import { UploadUrls } from './upload-urls.js';

// Uploaded input images: checked by their bytes, kept in the job store by sha256 as their uploader's, and handed
// back as signed links under PUBLIC_URL, which is what the upstream downloads. No upstream call is ever made here.

/** How long an upload's link works: as long as Claid's own temporary output links. */
export const UPLOAD_URL_TTL_MS = 24 * 60 * 60 * 1000;
const SECRET_NAME = 'upload-url-hmac';

export interface UploadServiceOptions {
  store: UploadStore;
  /** MAX_UPLOAD_BYTES: larger files are refused (the multipart parser stops reading at it already). */
  maxBytes: number;
  /** UPLOAD_URL_SECRET; unset: a secret kept in the store, made once. */
  secret: string | undefined;
  /**
   * Where links point (PUBLIC_URL, or the gateway's own URL in front of the embedded simulator), or why there is no
   * such place: then every upload is refused with that reason.
   */
  publicUrl: () => { url: string } | { refusal: string };
  logger: Logger;
  now?: () => Date;
}

export class UploadService {
  readonly urls: UploadUrls;
  readonly #options: UploadServiceOptions;
  #secret: Promise<string> | undefined;

  constructor(options: UploadServiceOptions) {
    this.#options = options;
    this.urls = new UploadUrls(() => this.#signingSecret());
  }

  /** Checks, keeps and signs `owner`'s image; BAD_USER_INPUT naming `file` for anything but an image in the limit. */
  async upload(owner: string, file: Blob): Promise<UploadedImage> {
    const where = this.#options.publicUrl();
    if ('refusal' in where) throw new BadUserInputError(where.refusal, 'file');
    const bytes = await readAtMost(file, this.#options.maxBytes);
    if (bytes.length === 0) throw new BadUserInputError('file is empty', 'file');
    const facts = await identifyImage(bytes);
    const now = this.#now();
    const upload: StoredUpload = {
      owner,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      byteSize: bytes.length,
      ...facts,
      createdAt: now,
    };
    await this.#options.store.put(upload, bytes);
    const link = await this.urls.sign(where.url, {
      sha256: upload.sha256,
      owner,
      expiresAt: new Date(now.getTime() + UPLOAD_URL_TTL_MS),
    });
    this.#options.logger.info(
      { owner, sha256: upload.sha256, byteSize: upload.byteSize, contentType: upload.contentType },
      'image uploaded',
    );
    const { contentType, byteSize, width, height } = upload;
    return { ...link, contentType, byteSize, width, height };
  }

  /** What a signed link serves: the owner's upload and its bytes, null when that owner has no such upload. */
  find(owner: string, sha256: string) {
    return this.#options.store.get(owner, sha256);
  }

  #signingSecret(): Promise<string> {
    if (this.#options.secret) return Promise.resolve(this.#options.secret);
    this.#secret ??= this.#options.store.secret(SECRET_NAME, () => randomBytes(32).toString('base64url'));
    // A store that failed to answer is asked again next time.
    this.#secret.catch(() => (this.#secret = undefined));
    return this.#secret;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }
}

/** The file's bytes, refusing more than `max` as they stream (the part was cut at the limit by the parser already). */
async function readAtMost(file: Blob, max: number): Promise<Buffer> {
  const tooLarge = () => new BadUserInputError(`file is larger than ${max} bytes (MAX_UPLOAD_BYTES)`, 'file');
  if (file.size > max) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = file.stream().getReader();
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    size += part.value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(part.value);
  }
  return Buffer.concat(chunks);
}
