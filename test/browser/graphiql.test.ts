import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/build-gateway.js';
import { startTestGateway } from '../support/gateway.js';
import { describeInBrowser, launchChromium, offlineContext, screenshotOnFailure } from './support/browser.js';
import { README_ID_PLACEHOLDER, README_SAMPLE_URL, readmeOperations } from './support/readme.js';

// GraphiQL as a new user meets it, offline: the page and its editors load from the gateway alone, and the README's
// first edit, first query and first subscription run in it to DONE, with the gateway's default security settings.

/**
 * Replaces the query editor's text as a user copying from the README would: select all, paste. (Typed text would
 * get the editor's closing brackets and indentation added.)
 */
async function setQuery(page: Page, text: string): Promise<void> {
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.locator('.graphiql-query-editor .monaco-editor').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('ControlOrMeta+V');
}

/** What the result pane shows, without whitespace: the pane wraps long lines, even inside a string. */
async function resultText(page: Page): Promise<string> {
  const text = (await page.locator('.graphiql-response .view-lines').textContent()) ?? '';
  return text.replace(/[\s\u00a0]+/g, '');
}

/** Waits until the result pane satisfies `predicate`; fails at once on a GraphQL error answer, with what it shows. */
async function waitForResult(page: Page, predicate: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = await resultText(page).catch(() => '');
    if (predicate(text)) return text;
    if (text.startsWith('{"errors"') || Date.now() > deadline)
      throw new Error(`the result pane never showed ${what}; it shows: ${text}`);
    await page.waitForTimeout(100);
  }
}

describeInBrowser('GraphiQL in Chromium, offline', () => {
  let gateway: Gateway;
  let browser: Browser;

  beforeAll(async () => {
    // Slow enough that the subscription opens before the job is final and sees it move; fast enough for CI.
    [gateway, browser] = await Promise.all([startTestGateway({ env: { SIMULATOR_STEP_MS: '600' } }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('loads from the gateway alone and runs the README mutation, query and subscription to DONE', async () => {
    const { context, refused } = await offlineContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const graphqlAnswers: { method: string; status: number; type: string }[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname !== '/graphql') return;
      graphqlAnswers.push({
        method: response.request().method(),
        status: response.status(),
        type: response.headers()['content-type'] ?? '',
      });
    });

    await screenshotOnFailure(page, 'graphiql-readme-operations', async () => {
      await page.goto(`${gateway.url}/graphql`);
      // Checked here too, so that a page that reaches for a CDN fails with the URLs it wanted.
      expect(refused).toEqual([]);
      // The schema has loaded (introspection answered) once the docs explorer lists the root types.
      await page.locator('button[aria-label="Show Documentation Explorer"]').click();
      await expect
        .poll(() => page.getByText('Mutation', { exact: true }).count(), { timeout: 15_000 })
        .toBeGreaterThan(0);
      await page.locator('button[aria-label="Hide Documentation Explorer"]').click();

      const sample = gateway.internals.simulator!.sampleUrl('living-room.jpg');
      await setQuery(page, readmeOperations.firstEdit.replace(README_SAMPLE_URL, sample));
      const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/graphql'));
      await page.locator('.graphiql-execute-button').click();
      const id = ((await (await answer).json()) as { data: { submitAiEdit: { job: { id: string } } } }).data
        .submitAiEdit.job.id;
      const submitted = await waitForResult(page, (t) => t.includes(`"id":"${id}"`), 'the new job');
      expect(submitted).toContain('"submitAiEdit"');
      expect(submitted).not.toContain('"errors"');

      await setQuery(page, readmeOperations.firstQuery.replace(README_ID_PLACEHOLDER, id));
      await page.locator('.graphiql-execute-button').click();
      const read = await waitForResult(page, (t) => t.includes('"aiEditJob"'), 'the job read');
      expect(read).toContain('"history"');
      expect(read).not.toContain('"errors"');

      await setQuery(page, readmeOperations.firstSubscription.replace(README_ID_PLACEHOLDER, id));
      await page.locator('.graphiql-execute-button').click();
      const done = await waitForResult(page, (t) => t.includes('"status":"DONE"'), 'DONE');
      expect(done).toContain('"aiEditJobUpdated"');
      expect(done).toContain('"tmpUrl"');
      expect(done).not.toContain('CSRF_PREVENTION');
    });

    // The subscription went over graphql-sse (a GET answered as an event stream), not refused.
    expect(graphqlAnswers).toContainEqual({
      method: 'GET',
      status: 200,
      type: expect.stringContaining('text/event-stream'),
    });
    expect(graphqlAnswers.filter((a) => a.status !== 200)).toEqual([]);
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
