import { describe, expect, it } from 'vitest';
import { parseAiEditRequest } from '../../src/domain/ai-edit-request.js';
import { hashAiEditRequest } from '../../src/domain/ai-edit-request-hash.js';
import { BadUserInputError } from '../../src/domain/errors.js';

const valid = { input: 'https://example.com/a.jpg', options: { prompt: 'add a duck' } };

function fieldOf(raw: unknown): string {
  try {
    parseAiEditRequest(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(BadUserInputError);
    return (error as BadUserInputError).field;
  }
  throw new Error('expected a BadUserInputError');
}

describe('submit validation', () => {
  it('keeps only the fields the caller gave', () => {
    expect(parseAiEditRequest({ ...valid, output: { format: null, destination: undefined } })).toEqual(valid);
    expect(
      parseAiEditRequest({
        input: 'storage://bucket/in.png',
        options: { prompt: 'add a duck', model: 'v1', aspectRatio: '16:9', inferenceSteps: 50, guidanceScale: 1 },
      }),
    ).toEqual({
      input: 'storage://bucket/in.png',
      options: { prompt: 'add a duck', model: 'v1', aspectRatio: '16:9', inferenceSteps: 50, guidanceScale: 1 },
    });
  });

  it.each([
    ['prompt too short', { ...valid, options: { prompt: 'ab' } }, 'input.options.prompt'],
    ['prompt of spaces', { ...valid, options: { prompt: '    ' } }, 'input.options.prompt'],
    ['prompt too long', { ...valid, options: { prompt: 'x'.repeat(5001) } }, 'input.options.prompt'],
    ['input not a URL', { ...valid, input: 'not a url' }, 'input.input'],
    ['input scheme', { ...valid, input: 'ftp://example.com/a.jpg' }, 'input.input'],
    ['input too long', { ...valid, input: `https://example.com/${'a'.repeat(4090)}` }, 'input.input'],
    ['destination scheme', { ...valid, output: { destination: 'file:///etc/passwd' } }, 'input.output.destination'],
    ['numberOfImages 0', { ...valid, output: { numberOfImages: 0 } }, 'input.output.numberOfImages'],
    ['numberOfImages 5', { ...valid, output: { numberOfImages: 5 } }, 'input.output.numberOfImages'],
    [
      'inferenceSteps 0',
      { ...valid, options: { prompt: 'add a duck', model: 'v1', inferenceSteps: 0 } },
      'input.options.inferenceSteps',
    ],
    [
      'inferenceSteps 51',
      { ...valid, options: { prompt: 'add a duck', model: 'v1', inferenceSteps: 51 } },
      'input.options.inferenceSteps',
    ],
    [
      'guidanceScale 0.5',
      { ...valid, options: { prompt: 'add a duck', model: 'v1', guidanceScale: 0.5 } },
      'input.options.guidanceScale',
    ],
    [
      'guidanceScale 10.5',
      { ...valid, options: { prompt: 'add a duck', model: 'v1', guidanceScale: 10.5 } },
      'input.options.guidanceScale',
    ],
    [
      'aspectRatio without V1',
      { ...valid, options: { prompt: 'add a duck', aspectRatio: '1:1' } },
      'input.options.aspectRatio',
    ],
    [
      'aspectRatio with V2',
      { ...valid, options: { prompt: 'add a duck', model: 'v2', aspectRatio: '1:1' } },
      'input.options.aspectRatio',
    ],
    [
      'inferenceSteps with V2',
      { ...valid, options: { prompt: 'add a duck', model: 'v2', inferenceSteps: 10 } },
      'input.options.inferenceSteps',
    ],
    [
      'guidanceScale without model',
      { ...valid, options: { prompt: 'add a duck', guidanceScale: 4 } },
      'input.options.guidanceScale',
    ],
  ])('refuses %s', (_name, raw, field) => {
    expect(fieldOf(raw)).toBe(field);
  });

  it('reports every invalid field at once, each with its own message, the first as `field`', () => {
    let error: BadUserInputError | undefined;
    try {
      parseAiEditRequest({
        input: 'not a url',
        output: { numberOfImages: 9 },
        options: { prompt: 'x', guidanceScale: 2 },
      });
    } catch (caught) {
      error = caught as BadUserInputError;
    }
    expect(error).toBeInstanceOf(BadUserInputError);
    expect(error!.field).toBe('input.input');
    expect(error!.extensions.field).toBe('input.input');
    expect(error!.extensions.fields).toEqual([
      { field: 'input.input', message: 'input.input must be an http, https or storage:// URL' },
      { field: 'input.output.numberOfImages', message: 'input.output.numberOfImages must be from 1 to 4' },
      { field: 'input.options.prompt', message: 'input.options.prompt must be at least 3 characters' },
      { field: 'input.options.guidanceScale', message: 'input.options.guidanceScale is supported only with model V1' },
    ]);
    for (const { message } of error!.extensions.fields as { message: string }[])
      expect(error!.message).toContain(message);
  });

  it('keeps a single problem as it was: `field` alone, no `fields`', () => {
    try {
      parseAiEditRequest({ ...valid, input: 'not a url' });
    } catch (error) {
      expect((error as BadUserInputError).extensions).toEqual({ field: 'input.input' });
      return;
    }
    throw new Error('expected a BadUserInputError');
  });

  it('refuses a prompt of only spaces as blank', () => {
    expect(() => parseAiEditRequest({ ...valid, options: { prompt: ' \t  \n ' } })).toThrow(
      'input.options.prompt must not be blank',
    );
  });

  it('counts prompt length in code points, as Claid does', () => {
    expect(parseAiEditRequest({ ...valid, options: { prompt: '🦆🦆🦆' } }).options.prompt).toBe('🦆🦆🦆');
    expect(parseAiEditRequest({ ...valid, options: { prompt: '🦆'.repeat(5000) } }).options.prompt).toHaveLength(
      10_000,
    );
    expect(() => parseAiEditRequest({ ...valid, options: { prompt: '🦆'.repeat(5001) } })).toThrow(
      'input.options.prompt must be at most 5000 characters',
    );
  });

  it('hashes equal requests equally, whatever the key order', () => {
    const a = parseAiEditRequest({ input: 'https://e.com/a.jpg', options: { prompt: 'add a duck', model: 'v1' } });
    const b = parseAiEditRequest({ options: { model: 'v1', prompt: 'add a duck' }, input: 'https://e.com/a.jpg' });
    const c = parseAiEditRequest({ input: 'https://e.com/a.jpg', options: { prompt: 'add a goose', model: 'v1' } });
    expect(hashAiEditRequest(a)).toBe(hashAiEditRequest(b));
    expect(hashAiEditRequest(a)).not.toBe(hashAiEditRequest(c));
  });
});
