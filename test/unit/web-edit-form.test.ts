import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EditFormValues,
  INITIAL_VALUES,
  SOURCE_FIELD,
  toSubmitInput,
  validateEditForm,
} from '../../web/src/form/edit-form.js';
import { SUBMIT } from '../support/gateway.js';
import { buildInProcessGateway, type InProcessGateway } from './support/in-process.js';

// The web app checks a submit before sending it, with the gateway's own rules: what it finds must be what the API
// answers for the same input (the same input paths, the same words), and what it lets through the API takes.

let api: InProcessGateway;
beforeAll(async () => {
  api = await buildInProcessGateway();
});
afterAll(() => api.close());

const URL_SOURCE = { kind: 'url', url: 'https://images.example/room.jpg' } as const;
const valid: EditFormValues = { ...INITIAL_VALUES, source: URL_SOURCE, prompt: 'add a duck' };

/** BAD_USER_INPUT's problems by field, as the API words them. */
async function apiProblems(values: EditFormValues): Promise<Record<string, string>> {
  const url = values.source?.kind === 'url' ? values.source.url : 'https://images.example/a.jpg';
  const res = await api.gql(SUBMIT, { input: toSubmitInput(values, url) });
  const error = res.errors?.[0];
  // No upstream here: an input the API takes fails later, at the submit itself, with another code.
  if (error?.extensions?.code !== 'BAD_USER_INPUT') return {};
  const fields = (error.extensions?.fields as { field: string; message: string }[] | undefined) ?? [
    { field: error.extensions?.field as string, message: error.message },
  ];
  return Object.fromEntries(fields.map((f) => [f.field, f.message]));
}

describe('the web app’s check before submit', () => {
  it('lets a valid V1 edit with 16:9 through, and the API does not refuse it', async () => {
    expect(validateEditForm(valid)).toEqual({});
    expect(await apiProblems(valid)).toEqual({});
    expect(toSubmitInput(valid, 'https://x.example/a.png').options).toEqual({
      prompt: 'add a duck',
      model: 'V1',
      aspectRatio: 'RATIO_16_9',
    });
  });

  it.each<[string, Partial<EditFormValues>]>([
    ['a blank prompt', { prompt: '   ' }],
    ['a two-letter prompt', { prompt: 'ab' }],
    ['too many steps and too little guidance', { inferenceSteps: '51', guidanceScale: '0.5' }],
    ['five images', { numberOfImages: '5' }],
    ['no images', { numberOfImages: '0' }],
    ['an ftp URL', { source: { kind: 'url', url: 'ftp://images.example/a.jpg' } }],
    ['a URL over 4096 characters', { source: { kind: 'url', url: `https://a.example/${'x'.repeat(4100)}` } }],
  ])('finds what the API finds for %s', async (_name, change) => {
    const values = { ...valid, ...change };
    const local = validateEditForm(values);
    expect(Object.keys(local).length).toBeGreaterThan(0);
    expect(local).toEqual(await apiProblems(values));
  });

  it('sends V1-only options only with V1, so V2 is never refused for them', async () => {
    const v2 = { ...valid, model: 'V2' as const, inferenceSteps: '20', guidanceScale: '5' };
    expect(toSubmitInput(v2, 'https://x.example/a.png').options).toEqual({ prompt: 'add a duck', model: 'V2' });
    expect(validateEditForm(v2)).toEqual({});
    expect(await apiProblems(v2)).toEqual({});
  });

  it('refuses fractional steps itself (the API refuses them as a bad variable, before its own rules)', () => {
    expect(validateEditForm({ ...valid, inferenceSteps: '2.5' })).toEqual({
      'input.options.inferenceSteps': 'input.options.inferenceSteps must be a whole number',
    });
  });

  it('asks for an image before anything is sent', () => {
    expect(validateEditForm({ ...valid, source: undefined })[SOURCE_FIELD]).toMatch(/Pick a sample/);
    expect(validateEditForm({ ...valid, source: { kind: 'url', url: '' } })[SOURCE_FIELD]).toMatch(/Pick a sample/);
  });
});
