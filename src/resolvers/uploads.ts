import type { UploadedImage } from '../domain/upload.js';
import type { ResolverContext } from './resolver-context.js';

/** Checks and keeps the caller's image; its URL is what submitAiEdit's `input` takes. */
export const uploadImage = (ctx: ResolverContext, file: Blob): Promise<UploadedImage> =>
  ctx.services.uploads.upload(ctx.owner, file);
