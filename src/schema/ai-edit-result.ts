import {
  type AiEditError,
  type AiEditImage,
  type AiEditOutputImage,
  type AiEditResult,
  type StatusChange,
  TMP_URL_TTL_MS,
} from '../domain/job.js';
import { builder } from './builder.js';
import { AiEditJobStatusEnum } from './enums.js';

// What a job came to: its images, Claid's errors and the statuses it went through (AiEditJob.result, errors, history).

/** The fields every image has; an output image's builder passes for an AiEditImage's, since its shape extends it. */
const imageFields = (
  t: PothosSchemaTypes.ObjectFieldBuilder<
    PothosSchemaTypes.ExtendDefaultTypes<import('./builder.js').PothosTypes>,
    AiEditImage
  >,
) => ({
  ext: t.exposeString('ext', { nullable: true, description: 'File extension (jpg, png).' }),
  mps: t.exposeFloat('mps', { nullable: true, description: 'Size in megapixels.' }),
  mime: t.exposeString('mime', { nullable: true, description: 'MIME type (image/jpeg, image/png).' }),
  format: t.exposeString('format', {
    nullable: true,
    description: 'File format as Claid names it (JPEG, PNG).',
  }),
  width: t.exposeInt('width', { nullable: true, description: 'Width in pixels.' }),
  height: t.exposeInt('height', { nullable: true, description: 'Height in pixels.' }),
});

const AiEditImageRef = builder.objectRef<AiEditImage>('AiEditImage').implement({
  description: 'An image Claid read: the input of a job.',
  fields: (t) => imageFields(t),
});

/** An output image together with its job's finish time, from which its URL's expiry follows. */
interface OutputImageShape extends AiEditOutputImage {
  finishedAt: Date | null;
}

const AiEditOutputImageRef = builder.objectRef<OutputImageShape>('AiEditOutputImage').implement({
  description: 'A generated image.',
  fields: (t) => ({
    ...imageFields(t),
    tmpUrl: t.exposeString('tmpUrl', {
      nullable: true,
      description: 'Temporary download URL; it stops working at `expiresAt`.',
    }),
    objectKey: t.exposeString('objectKey', {
      nullable: true,
      description: 'Path of the image in its bucket.',
    }),
    objectBucket: t.exposeString('objectBucket', {
      nullable: true,
      description: 'Bucket that holds the image.',
    }),
    objectUri: t.exposeString('objectUri', {
      nullable: true,
      description: 'URI of the image in its bucket.',
    }),
    claidStorageUri: t.exposeString('claidStorageUri', {
      nullable: true,
      description: 'URI of the image in Claid storage.',
    }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When `tmpUrl` stops working: 24 hours after the job finished, per Claid.',
      resolve: (i) => (i.tmpUrl && i.finishedAt ? new Date(i.finishedAt.getTime() + TMP_URL_TTL_MS) : null),
    }),
  }),
});

export const AiEditResultRef = builder
  .objectRef<{ result: AiEditResult; finishedAt: Date | null }>('AiEditResult')
  .implement({
    description: "A finished job's images.",
    fields: (t) => ({
      inputObject: t.field({
        type: AiEditImageRef,
        description: 'The input image as Claid read it.',
        resolve: (r) => r.result.inputObject,
      }),
      outputObjects: t.field({
        type: [AiEditOutputImageRef],
        description: 'The generated images.',
        resolve: (r) => r.result.outputObjects.map((o) => ({ ...o, finishedAt: r.finishedAt })),
      }),
    }),
  });

export const AiEditErrorRef = builder.objectRef<AiEditError>('AiEditError').implement({
  description: 'An error Claid reported while processing the job, or one the gateway ended the job with.',
  fields: (t) => ({
    message: t.exposeString('message', { description: "Claid's error message, or the gateway's." }),
    code: t.string({
      nullable: true,
      description:
        "The gateway's code when it ended the job itself (UPSTREAM_OUTCOME_UNKNOWN: Claid may have taken, and charged, the submit); null for Claid's errors.",
      resolve: (e) => e.code ?? null,
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the error occurred.', resolve: (e) => e.createdAt }),
  }),
});

export const AiEditStatusChangeRef = builder.objectRef<StatusChange>('AiEditStatusChange').implement({
  description: 'A status the gateway saw, and when.',
  fields: (t) => ({
    status: t.field({ type: AiEditJobStatusEnum, description: 'The status entered.', resolve: (c) => c.status }),
    at: t.field({ type: 'DateTime', description: 'When the gateway first saw it.', resolve: (c) => c.at }),
  }),
});
