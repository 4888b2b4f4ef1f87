import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe } from 'vitest';

// Debian's chromium driven by playwright-core, with no way out: every request (and WebSocket) to a host other than
// loopback is refused and counted, so a page that needs the internet fails here as it would offline.

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * describe() when Chromium is installed or under CI (where a missing browser must fail the run, not hide it);
 * otherwise a skipped describe that says why.
 */
export function describeInBrowser(name: string, body: () => void): void {
  if (existsSync(CHROMIUM_PATH) || process.env.CI) {
    describe(name, body);
    return;
  }
  console.warn(
    `browser suite skipped: no ${CHROMIUM_PATH} (install it with "apt-get install -y chromium"; under CI it is required)`,
  );
  describe.skip(name, body);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isOutside(url: string | URL): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol !== 'http:' && protocol !== 'https:' && protocol !== 'ws:' && protocol !== 'wss:') return false;
  return !LOOPBACK_HOSTS.has(hostname);
}

export interface OfflineContext {
  readonly context: BrowserContext;
  /** URLs of outside requests and WebSockets the page attempted (all refused). */
  readonly refused: string[];
}

/** A fresh browser context (no storage) that refuses everything but loopback. */
export async function offlineContext(browser: Browser): Promise<OfflineContext> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Well inside the test's own timeout, so that a step that never succeeds still leaves its screenshot.
  context.setDefaultTimeout(10_000);
  const refused: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (!isOutside(url)) return route.continue();
    refused.push(url);
    return route.abort('internetdisconnected');
  });
  await context.routeWebSocket(isOutside, (socket) => {
    refused.push(socket.url());
    return socket.close();
  });
  return { context, refused };
}

/** Runs a test's steps; when one fails, saves the page as test-results/<name>.png before rethrowing. */
export async function screenshotOnFailure(page: Page, name: string, steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (error) {
    const dir = join(process.cwd(), 'test-results');
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => undefined);
    if (error instanceof Error) error.message += `\n(screenshot: ${path})`;
    throw error;
  }
}
