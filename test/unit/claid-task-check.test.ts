import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UpstreamError } from '../../src/domain/errors.js';
import { JOB_STATUSES } from '../../src/domain/job.js';
import { claidTaskSchema, fromClaidTask } from '../../src/services/upstream/claid-mapping.js';
import { isPlainClaidTask } from '../../src/services/upstream/claid-task-check.js';
import { claidResult, claidTask } from '../support/test-upstream.js';

// The plain check of Claid's task must never let through what the zod schema refuses, and the task it lets through
// must map to what the schema's output maps to. Generators mix Claid's real shapes with each rule's edge cases.

const sometimes = <T>(share: number, arb: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: Math.round(share * 100), arbitrary: arb },
    { weight: Math.round((1 - share) * 100), arbitrary: fc.constant(undefined) },
  );
const mostly = <T, U>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: edge });
const junk = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.string({ maxLength: 3 }),
  fc.constant({}),
  fc.constant([]),
  fc.constant(Number.NaN),
);
const date = mostly(
  fc.constantFrom('2025-03-13T11:37:09.160554+00:00', '2025-03-13T11:37:09', 1741865829, 1741865829160, '1741865829'),
  fc.oneof(fc.constantFrom('yesterday', '', '2025-13-45', 1e20, -1), fc.string({ maxLength: 6 }), fc.double()),
);
const text = mostly(fc.string({ maxLength: 8 }), junk);
const num = mostly(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), junk);
const image = fc.record(
  { ext: text, mps: num, mime: text, format: text, width: num, height: num, extra: sometimes(0.1, junk) },
  { requiredKeys: [] },
);
const outputImage = fc.record(
  {
    ext: text,
    width: num,
    tmp_url: text,
    object_key: text,
    object_bucket: text,
    object_uri: text,
    claid_storage_uri: text,
  },
  { requiredKeys: [] },
);
const result = fc.oneof(
  fc.constant(claidResult(2)),
  fc.constant(null),
  fc.constant({}),
  fc.record({
    input_object: mostly(image, junk),
    output_objects: mostly(fc.array(outputImage, { maxLength: 3 }), junk),
  }),
  fc.record({ input_object: image }),
  fc.record({ output_objects: fc.array(outputImage, { maxLength: 2 }) }),
  junk,
);
const task = fc.record(
  {
    id: mostly(fc.nat(), fc.oneof(fc.integer({ min: -3, max: -1 }), fc.double(), fc.constant(2 ** 60), junk)),
    status: mostly(fc.constantFrom(...JOB_STATUSES), fc.constantFrom('done', 'FAILED', '')),
    created_at: date,
    errors: mostly(
      fc.oneof(
        fc.constant(null),
        fc.array(fc.record({ error: mostly(fc.string(), junk), created_at: date }), { maxLength: 2 }),
      ),
      junk,
    ),
    request: sometimes(0.5, fc.anything()),
    result: sometimes(0.8, result),
    extra: sometimes(0.1, fc.anything()),
  },
  { requiredKeys: [] },
);

describe('plain check of a Claid task', () => {
  afterEach(() => vi.restoreAllMocks());

  it('accepts nothing the schema refuses, and maps it as the schema output maps', () => {
    let accepted = 0;
    let declined = 0;
    fc.assert(
      fc.property(task, (data) => {
        if (!isPlainClaidTask(data)) {
          declined++;
          return;
        }
        accepted++;
        const parsed = claidTaskSchema.safeParse(data);
        expect(parsed.success).toBe(true);
        // The schema's output drops unknown keys, which the mapping never reads: both map to the same state.
        expect(fromClaidTask(data)).toStrictEqual(fromClaidTask(parsed.data));
      }),
      { numRuns: 20000, seed: 16 },
    );
    expect(accepted).toBeGreaterThan(2000);
    expect(declined).toBeGreaterThan(2000);
  });

  it('leaves the schema out for a well-formed task, and asks it to name what is wrong', () => {
    const safeParse = vi.spyOn(claidTaskSchema, 'safeParse');
    const done = fromClaidTask(claidTask({ id: 7, status: 'DONE', result: claidResult(1) }));
    expect(done).toMatchObject({ upstreamId: 7, status: 'DONE', createdAt: new Date('2025-03-13T11:37:09.160Z') });
    expect(done.result?.outputObjects[0]?.tmpUrl).toBe('https://dl.claid.ai/test/output-0.png');
    expect(safeParse).not.toHaveBeenCalled();

    const wrong = () =>
      fromClaidTask(claidTask({ id: 7, status: 'FINISHED' as never }), { httpStatus: 200, requestId: 'r-1' });
    expect(wrong).toThrow(UpstreamError);
    expect(wrong).toThrow(/status/);
    expect(safeParse).toHaveBeenCalled();
  });
});
