import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { aiEditRequestSchema, compactAiEditRequest, parseAiEditRequest } from '../../src/domain/ai-edit-request.js';
import { isPlainlyValidAiEditRequest } from '../../src/domain/ai-edit-request-rules.js';
import { AI_EDIT_MODELS, ASPECT_RATIOS, IMAGE_FORMATS } from '../../src/domain/job.js';

// The fast acceptance must never let through what the zod schema refuses, and must hand back what zod would.
// The generators mix valid values with the edge cases of each rule, so both answers occur often.

/** `arb` with the given share of the time, else absent. */
const sometimes = <T>(share: number, arb: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: Math.round(share * 100), arbitrary: arb },
    { weight: Math.round((1 - share) * 100), arbitrary: fc.constant(undefined) },
  );
const maybe = <T>(arb: fc.Arbitrary<T>) => sometimes(0.5, arb);
const rare = <T>(arb: fc.Arbitrary<T>) => sometimes(0.03, arb);
const mostly = <T, U>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: edge });
const url = mostly(
  fc.constantFrom('https://example.com/a.jpg', 'storage://bucket/in/a.png', 'http://x.test/p.png'),
  fc.oneof(
    fc.constantFrom(
      'https://example.com/a.jpg',
      'http://x.test/p.png',
      'storage://bucket/in/a.png',
      'storage://bucket',
      'storage://bucket/',
      'ftp://x.test/a.png',
      'https://',
      'https://exa mple.com/a.jpg',
      ' https://example.com/a.jpg',
      '',
      'not a url',
      `https://example.com/${'a'.repeat(4076)}`,
      `https://example.com/${'a'.repeat(4077)}`,
    ),
    fc.webUrl(),
    fc.string(),
  ),
);
const prompt = mostly(
  fc.constantFrom('add a duck', 'make it night', 'abc'),
  fc.oneof(
    fc.constantFrom(
      'add a duck',
      'ab',
      'abc',
      '  ab  ',
      '   ',
      '',
      '🦆🦆',
      '🦆🦆🦆',
      ' 🦆🦆 ',
      '\u00a0ab\u00a0',
      'a'.repeat(5000),
    ),
    fc.constant('🦆'.repeat(5000)),
    fc.constant('a'.repeat(5001)),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
  ),
);
const edgeNumber = fc.oneof(
  fc.integer({ min: -2, max: 60 }),
  fc.double({ min: -1, max: 60 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0, 0.99, 1.5, 4.5, 5, 10, 10.0001, 11, 50.5, 51),
);
const inRange = (min: number, max: number) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.oneof(fc.integer({ min, max }), fc.double({ min, max, noNaN: true })) },
    { weight: 1, arbitrary: edgeNumber },
  );
const oneOf = (values: readonly string[]) =>
  mostly(fc.constantFrom(...values), fc.constantFrom('V1', 'jpg', '5:4', 'x'));
const junk = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 3 }), fc.constant({}), fc.constant([]));

const options = fc.record(
  {
    prompt: mostly(prompt, junk),
    model: maybe(mostly(oneOf(AI_EDIT_MODELS), fc.constant(null))),
    aspectRatio: sometimes(0.3, oneOf(ASPECT_RATIOS)),
    inferenceSteps: sometimes(0.3, inRange(1, 50)),
    guidanceScale: sometimes(0.3, inRange(1, 10)),
    seed: rare(fc.integer()),
  },
  { requiredKeys: ['prompt'] },
);
const output = fc.record(
  {
    destination: maybe(url),
    format: maybe(oneOf(IMAGE_FORMATS)),
    numberOfImages: maybe(inRange(1, 4)),
    size: rare(junk),
  },
  { requiredKeys: [] },
);
const request = fc.record(
  {
    input: mostly(url, junk),
    options: mostly(options, junk),
    output: maybe(mostly(output, junk)),
    extra: rare(fc.string()),
  },
  { requiredKeys: ['input'] },
);

describe('fast acceptance of a plainly valid submit', () => {
  afterEach(() => vi.restoreAllMocks());

  it('accepts nothing the schema refuses, and hands back what the schema would', () => {
    let accepted = 0;
    let declined = 0;
    fc.assert(
      fc.property(request, (raw) => {
        const candidate = compactAiEditRequest(raw);
        if (!isPlainlyValidAiEditRequest(candidate)) {
          declined++;
          return;
        }
        accepted++;
        const parsed = aiEditRequestSchema.safeParse(candidate);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(candidate);
      }),
      { numRuns: 20000, seed: 16 },
    );
    // The generators must exercise both answers, or the property proves nothing.
    expect(accepted).toBeGreaterThan(2000);
    expect(declined).toBeGreaterThan(2000);
  });

  it('leaves the schema out for a plainly valid submit, and asks it to explain a refusal', () => {
    const safeParse = vi.spyOn(aiEditRequestSchema, 'safeParse');
    const valid = {
      input: 'https://example.com/a.jpg',
      output: { format: 'png', numberOfImages: 2, destination: null },
      options: { prompt: 'add a duck', model: 'v1', aspectRatio: '16:9', inferenceSteps: 30, guidanceScale: 4.5 },
    };
    expect(parseAiEditRequest(valid)).toStrictEqual({
      input: 'https://example.com/a.jpg',
      output: { format: 'png', numberOfImages: 2 },
      options: valid.options,
    });
    expect(safeParse).not.toHaveBeenCalled();

    expect(() => parseAiEditRequest({ ...valid, options: { prompt: 'ab', guidanceScale: 2 } })).toThrow(
      'input.options.prompt must be at least 3 characters',
    );
    expect(safeParse).toHaveBeenCalledTimes(1);
  });
});
