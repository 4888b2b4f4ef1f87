import type { AiEditOptions, AiEditOutput, AiEditRequest } from '../domain/job.js';
import { builder } from './builder.js';
import { AiEditAspectRatioEnum, AiEditImageFormatEnum, AiEditModelEnum } from './enums.js';

// A job's request exactly as it was submitted (AiEditJob.request).

const AiEditRequestOptions = builder.objectRef<AiEditOptions>('AiEditRequestOptions').implement({
  description: 'Generation options as submitted; unset options are null and Claid used its defaults.',
  fields: (t) => ({
    prompt: t.exposeString('prompt', { description: 'What to change in the image ("add a duck").' }),
    model: t.expose('model', {
      type: AiEditModelEnum,
      nullable: true,
      description: 'The model asked for; null means Claid’s default (V2).',
    }),
    aspectRatio: t.expose('aspectRatio', {
      type: AiEditAspectRatioEnum,
      nullable: true,
      description: 'The aspect ratio asked for (V1 only).',
    }),
    inferenceSteps: t.exposeInt('inferenceSteps', {
      nullable: true,
      description: 'Inference steps asked for (V1 only).',
    }),
    guidanceScale: t.exposeFloat('guidanceScale', {
      nullable: true,
      description: 'Guidance scale asked for (V1 only).',
    }),
  }),
});

const AiEditRequestOutput = builder.objectRef<AiEditOutput>('AiEditRequestOutput').implement({
  description: 'Output settings as submitted.',
  fields: (t) => ({
    destination: t.exposeString('destination', {
      nullable: true,
      description: 'Where Claid was asked to store the results; null means its temporary bucket.',
    }),
    format: t.expose('format', {
      type: AiEditImageFormatEnum,
      nullable: true,
      description: 'The format asked for; null means PNG.',
    }),
    numberOfImages: t.exposeInt('numberOfImages', {
      nullable: true,
      description: 'How many images were asked for; null means 1.',
    }),
  }),
});

export const AiEditRequestRef = builder.objectRef<AiEditRequest>('AiEditRequest').implement({
  description: 'The request exactly as it was submitted.',
  fields: (t) => ({
    input: t.exposeString('input', { description: 'URL of the input image.' }),
    output: t.expose('output', {
      type: AiEditRequestOutput,
      nullable: true,
      description: 'Output settings; null when none were given.',
    }),
    options: t.field({ type: AiEditRequestOptions, description: 'Generation options.', resolve: (r) => r.options }),
  }),
});
