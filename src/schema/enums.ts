import { ASPECT_RATIOS, type AspectRatio } from '../domain/job.js';
import { builder } from './builder.js';

export const AiEditJobStatusEnum = builder.enumType('AiEditJobStatus', {
  description:
    "A job's status: QUEUED is the gateway's own, the rest are Claid's as it reports them. DONE, ERROR and CANCELLED are final.",
  values: {
    QUEUED: {
      description:
        "The gateway's own status: the job is recorded and Claid does not have it yet, so `upstreamId` is null. " +
        "It waits in the submit queue (see `queuePosition`) while the account's generation or request budget is " +
        'spent, or after Claid answered 429; it is sent in order as the budget allows.',
    },
    ACCEPTED: { description: 'Claid accepted the task; it has not been queued yet.' },
    WAITING: { description: 'Queued, waiting for a worker.' },
    PROCESSING: { description: 'Being generated.' },
    DONE: { description: 'Finished: `result` holds the output images. Final.' },
    ERROR: { description: 'Failed: `errors` says why. Final.' },
    CANCELLED: { description: 'Cancelled upstream. Final.' },
    PAUSED: { description: 'Paused upstream; not final, it may continue.' },
  } as const,
});

export const AiEditModelEnum = builder.enumType('AiEditModel', {
  description: 'The generation model.',
  values: {
    V1: {
      value: 'v1',
      description: 'The first model; the only one that takes aspectRatio, inferenceSteps and guidanceScale.',
    },
    V2: { value: 'v2', description: "Claid's default and recommended model, with native 2K output." },
  } as const,
});

export const AiEditImageFormatEnum = builder.enumType('AiEditImageFormat', {
  description: 'The file format of output images.',
  values: {
    JPEG: { value: 'jpeg', description: 'JPEG.' },
    PNG: { value: 'png', description: "PNG (Claid's default)." },
  } as const,
});

const ratioValues = Object.fromEntries(
  ASPECT_RATIOS.map((ratio) => [
    `RATIO_${ratio.replace(':', '_')}`,
    { value: ratio, description: `Width to height ${ratio}.` },
  ]),
) as Record<string, { value: AspectRatio; description: string }>;

export const AiEditAspectRatioEnum = builder.enumType('AiEditAspectRatio', {
  description: 'The aspect ratio of generated images (model V1 only).',
  values: ratioValues,
});
