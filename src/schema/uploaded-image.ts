import type { UploadedImage } from '../domain/upload.js';
import { uploadImage } from '../resolvers/uploads.js';
import { builder } from './builder.js';

const UploadedImageRef = builder.objectRef<UploadedImage>('UploadedImage').implement({
  description:
    'An image you uploaded, kept by the gateway and served at a signed URL until `expiresAt`. Pass `url` as ' +
    "submitAiEdit's `input.input`.",
  fields: (t) => ({
    url: t.exposeString('url', {
      description:
        'A signed URL under PUBLIC_URL that serves the image until `expiresAt` (to Claid, and to anyone holding it).',
    }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When `url` stops working; upload the same bytes again for a fresh one.',
      resolve: (image) => image.expiresAt,
    }),
    contentType: t.exposeString('contentType', {
      description: 'The format its bytes are: image/jpeg, image/png, image/webp, image/avif or image/heic.',
    }),
    byteSize: t.exposeInt('byteSize', { description: 'Its size in bytes.' }),
    width: t.exposeInt('width', { nullable: true, description: 'Width in pixels; null when it could not be read.' }),
    height: t.exposeInt('height', { nullable: true, description: 'Height in pixels; null when it could not be read.' }),
  }),
});

builder.mutationFields((t) => ({
  uploadImage: t.field({
    type: UploadedImageRef,
    description:
      'Uploads an input image (a multipart request, with a preflight header such as x-graphql-yoga-csrf). Its bytes ' +
      'must be JPEG, PNG, WEBP, AVIF or HEIC and at most MAX_UPLOAD_BYTES; anything else is BAD_USER_INPUT naming ' +
      '`file`. Costs no upstream call.',
    args: { file: t.arg({ type: 'File', required: true, description: 'The image.' }) },
    resolve: (_root, args, ctx) => uploadImage(ctx, args.file),
  }),
}));
