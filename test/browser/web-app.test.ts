import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ReadAiEditJobDocument } from '../../client/gql/graphql.js';
import manifest from '../../client/gql/persisted-documents.json' with { type: 'json' };
import type { Gateway } from '../../src/gateway/build-gateway.js';
import { gql, SUBMIT, startTestGateway } from '../support/gateway.js';
import { describeInBrowser, launchChromium, offlineContext, screenshotOnFailure } from './support/browser.js';
import { buildWebApp, loadedOutputSizes, makeNoisyPng, makePng, submitEdit, watchedJobId } from './support/web-app.js';

// The web app (web/) as a user meets it, offline, in Chromium: served by the gateway at `/`, it uploads an image
// made here, submits it with V1 and 16:9, follows the job to DONE on a live timeline, renders the output at the
// size the API reports, and keeps the list of jobs current through its one subscription. Then the same behind
// AUTH_MODE=apikey with PERSISTED_OPERATIONS=only, and uploads the API refuses, with the API's words on the page.

// The README's picture: rewritten with UPDATE_SCREENSHOT=1 (then commit it); otherwise taken to a temporary file, so
// that a test run leaves the checkout as it found it.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url))
    : join(tmpdir(), `web-app-screenshot-${process.pid}.png`);
const API_KEY = 'browser-key-0001';
const MAX_UPLOAD_BYTES = 200_000;

describeInBrowser('the web app in Chromium, offline', () => {
  let open: Gateway;
  let locked: Gateway;
  let browser: Browser;

  beforeAll(async () => {
    await buildWebApp();
    [open, locked, browser] = await Promise.all([
      // Slow enough that the page sees the job move through its statuses.
      startTestGateway({ env: { SIMULATOR_STEP_MS: '300', MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } }),
      startTestGateway({
        env: { AUTH_MODE: 'apikey', GATEWAY_API_KEYS: `browser:${API_KEY}`, PERSISTED_OPERATIONS: 'only' },
      }),
      launchChromium(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([open?.stop(), locked?.stop()]);
  });

  /** A fresh offline page on `gateway`, recording page errors, refused requests and the subscriptions it opens. */
  async function openApp(gateway: Gateway, viewport = { width: 1280, height: 900 }) {
    const { context, refused } = await offlineContext(browser);
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const subscribes: string[] = [];
    page.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { type: string; payload?: { query?: string } };
        if (message.type === 'subscribe') subscribes.push(message.payload?.query ?? '');
      }),
    );
    await page.goto(gateway.url);
    return { page, context, refused, pageErrors, subscribes };
  }

  async function expectDone(page: Page, gateway: Gateway, headers: Record<string, string> = {}) {
    const id = await watchedJobId(page);
    await page.locator(`.job-panel[data-job-id="${id}"][data-status="DONE"]`).waitFor({ timeout: 20_000 });
    const timeline = await page.locator('.timeline li').evaluateAll((items) => items.map((i) => i.dataset.status));
    expect(timeline.at(-1)).toBe('DONE');
    expect(timeline).toContain('PROCESSING');
    const outputs = await apiOutputs(gateway, id, headers);
    expect(outputs.length).toBeGreaterThan(0);
    expect(await loadedOutputSizes(page)).toEqual(outputs.map(({ width, height }) => ({ width, height })));
    return id;
  }

  it('serves the app at / (hashed assets cached for a year) and GraphiQL still at /graphql', async () => {
    const index = await fetch(open.url);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    expect(html).toContain('<div id="app">');
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)">/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${open.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('gzip');
    const again = await fetch(open.url, { headers: { 'if-none-match': index.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const sample = await fetch(`${open.url}/samples/living-room.jpg`);
    expect(sample.headers.get('content-type')).toBe('image/jpeg');

    const { page, context, refused, pageErrors } = await openApp(open);
    await screenshotOnFailure(page, 'web-app-routes', async () => {
      await expect.poll(() => page.getByRole('heading', { name: /AI Edit/ }).count()).toBe(1);
      // GraphiQL's first load reads and gzips its 8 MB of assets: slow on a busy machine.
      await page.goto(`${open.url}/graphql`, { waitUntil: 'domcontentloaded', timeout: 30_000 });
      await expect.poll(() => page.title()).toBe('AI Edit GraphQL gateway');
      await page.locator('.graphiql-container').first().waitFor({ timeout: 30_000 });
    });
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 60_000);

  it('uploads a PNG, follows the job to DONE, renders its output at the API size, and lists jobs live', async () => {
    const { page, context, refused, pageErrors, subscribes } = await openApp(open);
    await screenshotOnFailure(page, 'web-app-first-edit', async () => {
      await page.locator('.feed-live').waitFor();
      // A job submitted elsewhere by the same caller shows up in the list through the feed alone.
      const elsewhere = await gql(open, SUBMIT, {
        input: {
          input: open.internals.simulator!.sampleUrl('portrait.jpg'),
          options: { prompt: 'Put a red scarf on her' },
        },
      });
      const elsewhereId = elsewhere.data!.submitAiEdit.job.id as string;
      await page.locator(`.jobs li[data-job-id="${elsewhereId}"][data-status="DONE"]`).waitFor({ timeout: 20_000 });

      const png = await makePng(640, 480);
      await submitEdit(page, {
        file: { name: 'living-room.png', mimeType: 'image/png', buffer: png },
        prompt: 'Add a green velvet armchair by the window',
        images: 2,
      });
      const id = await expectDone(page, open);
      await page.locator(`.jobs li[data-job-id="${id}"][data-status="DONE"]`).waitFor();
      expect(await page.locator('.expires').first().textContent()).toMatch(/Link expires .*\(in (23|24) h\)/);

      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // Full size on click, closed with Escape.
      await page.locator('.thumbnail').first().click();
      await page.locator('dialog.full-size img').waitFor();
      await page.keyboard.press('Escape');
      await page.locator('dialog.full-size').waitFor({ state: 'detached' });
    });
    // One subscription for the whole page: the list and the watched job.
    expect(subscribes).toHaveLength(1);
    expect(subscribes[0]).toContain('aiEditJobsUpdated');
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('reads at a phone width without scrolling sideways', async () => {
    const { page, context } = await openApp(open, { width: 390, height: 844 });
    await page.getByLabel('Prompt').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await context.close();
  });

  it('works behind AUTH_MODE=apikey with PERSISTED_OPERATIONS=only, the key kept in sessionStorage', async () => {
    const { page, context, refused, pageErrors } = await openApp(locked);
    await screenshotOnFailure(page, 'web-app-apikey', async () => {
      // Without a key the API's refusal shows.
      await page.getByText('UNAUTHENTICATED').first().waitFor();
      // Keyboard only: type the key, Enter saves it.
      await page.getByLabel('API key').focus();
      await page.keyboard.type(API_KEY);
      await page.keyboard.press('Enter');
      await page.locator('.feed-live').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('ai-edit.apiKey'))).toBe(API_KEY);
      await submitEdit(page, { sample: 'Living room', prompt: 'Add a sleeping cat on the sofa' });
      const id = await expectDone(page, locked, { authorization: `Bearer ${API_KEY}` });
      await page.locator(`.jobs li[data-job-id="${id}"]`).waitFor();
      // The key survives a reload of the tab.
      await page.reload();
      await page.locator(`.jobs li[data-job-id="${id}"][data-status="DONE"]`).waitFor();
    });
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows the API’s refusal of a text file named .png and of a file over MAX_UPLOAD_BYTES next to the image', async () => {
    const { page, context } = await openApp(open);
    await screenshotOnFailure(page, 'web-app-refused-upload', async () => {
      const fieldError = page.locator('.image-source .field-error');
      await submitEdit(page, {
        file: { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are my notes, not a picture\n') },
        prompt: 'Add a lamp',
      });
      await fieldError.waitFor();
      const notImage = await uploadRefusal(open, Buffer.from('these are my notes, not a picture\n'), 'notes.png');
      expect(notImage).toMatch(/image/i);
      expect(await fieldError.textContent()).toBe(notImage);

      // Over MAX_UPLOAD_BYTES: stopped while it streams (BAD_USER_INPUT naming the file). Far over it, so that the
      // whole body is over MAX_UPLOAD_BYTES + MAX_BODY_BYTES: refused by its Content-Length (413) before any read.
      let shown = notImage;
      for (const [side, code] of [
        [300, 'BAD_USER_INPUT'],
        [500, 'REQUEST_ENTITY_TOO_LARGE'],
      ] as const) {
        const big = await makeNoisyPng(side, side);
        expect(big.byteLength).toBeGreaterThan(MAX_UPLOAD_BYTES);
        await submitEdit(page, { file: { name: 'big.png', mimeType: 'image/png', buffer: big }, prompt: 'Add a lamp' });
        await expect.poll(() => fieldError.textContent()).not.toBe(shown);
        shown = (await fieldError.textContent())!;
        expect(shown).toBe(await uploadRefusal(open, big, 'big.png', code));
      }
      expect(shown).toBe('Request body too large');
      expect(await page.locator('.job-panel[data-job-id]').count()).toBe(0);
    });
    await context.close();
  });
});

/** The job's output sizes as the API reports them, asked with a trusted document (PERSISTED_OPERATIONS=only too). */
async function apiOutputs(gateway: Gateway, id: string, headers: Record<string, string>) {
  const hash = (ReadAiEditJobDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    // The hash for PERSISTED_OPERATIONS=only, the text for a gateway with it off, as the app sends them.
    body: JSON.stringify({
      query: (manifest as Record<string, string>)[hash],
      variables: { id },
      extensions: { persistedQuery: { version: 1, sha256Hash: hash.slice('sha256:'.length) } },
    }),
  });
  const json = (await response.json()) as {
    data: { aiEditJob: { result: { outputObjects: { width: number; height: number }[] } } };
  };
  return json.data.aiEditJob.result.outputObjects;
}

/** The message the API itself gives for uploading `body`, sent without the app. */
async function uploadRefusal(gateway: Gateway, body: Buffer, name: string, code = 'BAD_USER_INPUT'): Promise<string> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({
      query: 'mutation ($file: File!) { uploadImage(file: $file) { url } }',
      variables: { file: null },
    }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([new Uint8Array(body)], { type: 'image/png' }), name);
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'x-graphql-yoga-csrf': 'test' },
    body: form,
  });
  const json = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
  expect(json.errors?.[0]?.extensions?.code).toBe(code);
  return json.errors![0]!.message;
}
