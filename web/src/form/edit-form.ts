import type {
  AiEditAspectRatio,
  AiEditImageFormat,
  AiEditModel,
  SubmitAiEditInput,
} from '../../../client/gql/graphql.js';
import { parseAiEditRequest } from '../../../src/domain/ai-edit-request.js';
import { BadUserInputError } from '../../../src/domain/errors.js';

// The form's values, the GraphQL input they make, and their check before submit: the gateway's own rules
// (src/domain/ai-edit-request.ts, bundled), so a mistake shows at once, worded as the API words it, and costs no
// request. The API checks again; the two cannot disagree, being one function.

export type ImageSource =
  | { kind: 'sample'; name: string; path: string }
  | { kind: 'file'; file: File }
  | { kind: 'url'; url: string };

export interface EditFormValues {
  source: ImageSource | undefined;
  prompt: string;
  model: AiEditModel;
  aspectRatio: AiEditAspectRatio | '';
  /** As typed: empty means Claid's default. */
  inferenceSteps: string;
  guidanceScale: string;
  numberOfImages: string;
  format: AiEditImageFormat;
}

export const INITIAL_VALUES: EditFormValues = {
  source: undefined,
  prompt: '',
  model: 'V1',
  aspectRatio: 'RATIO_16_9',
  inferenceSteps: '',
  guidanceScale: '',
  numberOfImages: '1',
  format: 'PNG',
};

export const ASPECT_RATIOS: readonly AiEditAspectRatio[] = [
  'RATIO_1_1',
  'RATIO_2_3',
  'RATIO_3_2',
  'RATIO_3_4',
  'RATIO_4_3',
  'RATIO_9_16',
  'RATIO_16_9',
  'RATIO_9_21',
  'RATIO_21_9',
];

export const ratioLabel = (ratio: AiEditAspectRatio): string => ratio.replace('RATIO_', '').replace('_', ':');

/** Field errors by GraphQL input path (`input.options.prompt`); the image source is `input.input`. */
export type FieldErrors = Record<string, string>;

export const SOURCE_FIELD = 'input.input';

// Stands in for an image still to be uploaded, whose URL the gateway gives only after the upload.
const UPLOAD_PLACEHOLDER = 'https://upload.invalid/pending';

const optionalNumber = (text: string): number | undefined => (text.trim() === '' ? undefined : Number(text));

/** The submit input for these values, with `inputUrl` as the image (the URL typed, or the uploaded image's). */
export function toSubmitInput(values: EditFormValues, inputUrl: string): SubmitAiEditInput {
  const v1 = values.model === 'V1';
  const numberOfImages = optionalNumber(values.numberOfImages);
  return {
    input: inputUrl,
    options: {
      prompt: values.prompt,
      model: values.model,
      ...(v1 && values.aspectRatio ? { aspectRatio: values.aspectRatio } : {}),
      ...(v1 && optionalNumber(values.inferenceSteps) !== undefined
        ? { inferenceSteps: optionalNumber(values.inferenceSteps) }
        : {}),
      ...(v1 && optionalNumber(values.guidanceScale) !== undefined
        ? { guidanceScale: optionalNumber(values.guidanceScale) }
        : {}),
    },
    output: { format: values.format, ...(numberOfImages !== undefined ? { numberOfImages } : {}) },
  };
}

/** The GraphQL input in the domain's spelling (`V1` is `v1`, `RATIO_16_9` is `16:9`), as the schema maps it. */
export function toDomainRequest(input: SubmitAiEditInput): unknown {
  const { options, output } = input;
  return {
    input: input.input,
    options: {
      ...options,
      model: options.model?.toLowerCase(),
      aspectRatio: options.aspectRatio ? ratioLabel(options.aspectRatio) : undefined,
    },
    output: output ? { ...output, format: output.format?.toLowerCase() } : undefined,
  };
}

/** Every problem with the values, by input path; empty when the API would take them. */
export function validateEditForm(values: EditFormValues): FieldErrors {
  const errors: FieldErrors = {};
  const source = values.source;
  if (!source || (source.kind === 'url' && source.url.trim() === '')) {
    errors[SOURCE_FIELD] = 'Pick a sample, choose a file or paste a URL.';
  }
  const url = source?.kind === 'url' ? source.url.trim() : UPLOAD_PLACEHOLDER;
  try {
    parseAiEditRequest(toDomainRequest(toSubmitInput(values, url)));
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    for (const { field, message } of error.fields) errors[field] ??= message;
  }
  // GraphQL's Int refuses a fraction before the API's rules run, in words of its own: say it as the rules would.
  for (const [field, text] of [
    ['input.options.inferenceSteps', values.model === 'V1' ? values.inferenceSteps : ''],
    ['input.output.numberOfImages', values.numberOfImages],
  ] as const) {
    const n = optionalNumber(text);
    if (n !== undefined && Number.isFinite(n) && !Number.isInteger(n))
      errors[field] = `${field} must be a whole number`;
  }
  return errors;
}
