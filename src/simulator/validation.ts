import {
  AI_EDIT_MODELS,
  type AiEditModel,
  ASPECT_RATIOS,
  type AspectRatio,
  IMAGE_FORMATS,
  type ImageFormat,
} from '../domain/job.js';

// Validation of the submit body against Claid's published JSON schema (AiEditAPIRequest): additionalProperties false
// at every level, strict JSON types (no string-to-number coercion), messages in pydantic's wording.

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** A valid request with the schema's defaults applied. */
export interface SimulatedAiEditRequest {
  input: string;
  prompt: string;
  model: AiEditModel;
  aspectRatio: AspectRatio | undefined;
  inferenceSteps: number | undefined;
  guidanceScale: number | undefined;
  numberOfImages: number;
  format: ImageFormat;
  destination: string | undefined;
}

export type ValidationOutcome = { ok: true; value: SimulatedAiEditRequest } | { ok: false; issues: ValidationIssue[] };

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON Schema `format: uri`: a scheme, no whitespace, and parseable. */
export function isUri(value: string): boolean {
  if (/\s/.test(value) || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

class Checker {
  readonly issues: ValidationIssue[] = [];

  add(loc: (string | number)[], msg: string, type: string): void {
    this.issues.push({ loc: ['body', ...loc], msg, type });
  }

  object(value: unknown, loc: string[], allowed: readonly string[]): Obj | undefined {
    if (!isObject(value)) {
      this.add(loc, 'value is not a valid dict', 'type_error.dict');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add([...loc, key], 'extra fields not permitted', 'value_error.extra');
    }
    return value;
  }

  present(obj: Obj, key: string, loc: string[], required: boolean): boolean {
    if (!(key in obj)) {
      if (required) this.add([...loc, key], 'field required', 'value_error.missing');
      return false;
    }
    if (obj[key] === null) {
      this.add([...loc, key], 'none is not an allowed value', 'type_error.none.not_allowed');
      return false;
    }
    return true;
  }

  string(value: unknown, loc: string[], min: number, max: number, uri: boolean): string | undefined {
    if (typeof value !== 'string') {
      this.add(loc, 'str type expected', 'type_error.str');
      return undefined;
    }
    if (value.length < min) {
      this.add(loc, `ensure this value has at least ${min} characters`, 'value_error.any_str.min_length');
      return undefined;
    }
    if (value.length > max) {
      this.add(loc, `ensure this value has at most ${max} characters`, 'value_error.any_str.max_length');
      return undefined;
    }
    if (uri && !isUri(value)) {
      this.add(loc, 'invalid or missing URL scheme', 'value_error.url.scheme');
      return undefined;
    }
    return value;
  }

  number(value: unknown, loc: string[], min: number, max: number, integer: boolean): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.add(
        loc,
        integer ? 'value is not a valid integer' : 'value is not a valid float',
        integer ? 'type_error.integer' : 'type_error.float',
      );
      return undefined;
    }
    if (integer && !Number.isInteger(value)) {
      this.add(loc, 'value is not a valid integer', 'type_error.integer');
      return undefined;
    }
    if (value < min) {
      this.add(loc, `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
      return undefined;
    }
    if (value > max) {
      this.add(loc, `ensure this value is less than or equal to ${max}`, 'value_error.number.not_le');
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, loc: string[], allowed: readonly T[]): T | undefined {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.add(
      loc,
      `value is not a valid enumeration member; permitted: ${allowed.map((a) => `'${a}'`).join(', ')}`,
      'type_error.enum',
    );
    return undefined;
  }
}

export function validateAiEditRequest(body: unknown): ValidationOutcome {
  const c = new Checker();
  const root = c.object(body, [], ['input', 'output', 'options']);
  if (!root) return { ok: false, issues: c.issues };

  let input: string | undefined;
  if (c.present(root, 'input', [], true)) input = c.string(root['input'], ['input'], 1, 4096, true);

  let numberOfImages = 1;
  let format: ImageFormat = 'png';
  let destination: string | undefined;
  if (c.present(root, 'output', [], false)) {
    const output = root['output'];
    if (typeof output === 'string') {
      destination = c.string(output, ['output'], 1, 4096, true);
    } else {
      const o = c.object(output, ['output'], ['number_of_images', 'destination', 'format']);
      if (o) {
        if (c.present(o, 'number_of_images', ['output'], false)) {
          numberOfImages =
            c.number(o['number_of_images'], ['output', 'number_of_images'], 1, 4, true) ?? numberOfImages;
        }
        if (c.present(o, 'destination', ['output'], false)) {
          destination = c.string(o['destination'], ['output', 'destination'], 1, 4096, true);
        }
        if (c.present(o, 'format', ['output'], false)) {
          format = c.oneOf(o['format'], ['output', 'format'], IMAGE_FORMATS) ?? format;
        }
      }
    }
  }

  let prompt: string | undefined;
  let model: AiEditModel = 'v2';
  let aspectRatio: AspectRatio | undefined;
  let inferenceSteps: number | undefined;
  let guidanceScale: number | undefined;
  if (c.present(root, 'options', [], true)) {
    const o = c.object(
      root['options'],
      ['options'],
      ['model', 'prompt', 'aspect_ratio', 'inference_steps', 'guidance_scale'],
    );
    if (o) {
      if (c.present(o, 'prompt', ['options'], true))
        prompt = c.string(o['prompt'], ['options', 'prompt'], 3, 5000, false);
      if (c.present(o, 'model', ['options'], false))
        model = c.oneOf(o['model'], ['options', 'model'], AI_EDIT_MODELS) ?? model;
      if (c.present(o, 'aspect_ratio', ['options'], false)) {
        aspectRatio = c.oneOf(o['aspect_ratio'], ['options', 'aspect_ratio'], ASPECT_RATIOS);
      }
      if (c.present(o, 'inference_steps', ['options'], false)) {
        inferenceSteps = c.number(o['inference_steps'], ['options', 'inference_steps'], 1, 50, true);
      }
      if (c.present(o, 'guidance_scale', ['options'], false)) {
        guidanceScale = c.number(o['guidance_scale'], ['options', 'guidance_scale'], 1, 10, false);
      }
    }
  }

  if (c.issues.length > 0 || input === undefined || prompt === undefined) return { ok: false, issues: c.issues };
  return {
    ok: true,
    value: { input, prompt, model, aspectRatio, inferenceSteps, guidanceScale, numberOfImages, format, destination },
  };
}
