import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { build } from 'vite';

// What the web app's browser tests share: a fresh build of web/ (into dist/web, which the gateway serves), images
// made here, and the page's controls found as a user finds them, by their labels.

const CONFIG = fileURLToPath(new URL('../../../web/vite.config.ts', import.meta.url));

/** Builds web/ as `npm run build` does, so that the tests drive the app of this checkout, never a stale one. */
export async function buildWebApp(): Promise<void> {
  await build({ configFile: CONFIG, logLevel: 'warn' });
}

/** A PNG of `width` x `height` with some structure, as a user's photo would have. */
export async function makePng(width: number, height: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ffd8a8"/><stop offset="1" stop-color="#e8590c"/></linearGradient></defs>
<rect width="${width}" height="${height}" fill="url(#g)"/>
<circle cx="${width * 0.3}" cy="${height * 0.4}" r="${Math.min(width, height) * 0.2}" fill="#1971c2"/>
<rect x="${width * 0.55}" y="${height * 0.5}" width="${width * 0.3}" height="${height * 0.3}" fill="#2f9e44"/>
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Random pixels: a PNG that does not compress, for a file over a size limit. */
export async function makeNoisyPng(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919 + ((i * 104729) >> 3)) & 0xff;
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

export interface EditChoice {
  file?: { name: string; mimeType: string; buffer: Buffer };
  sample?: string;
  prompt: string;
}

/** Fills the form (V1, 16:9) and submits it, as a user with a keyboard or a mouse would. */
export async function submitEdit(page: Page, choice: EditChoice): Promise<void> {
  if (choice.file) await page.getByLabel(/Choose a file/).setInputFiles(choice.file);
  if (choice.sample) await page.getByRole('button', { name: choice.sample }).click();
  await page.getByLabel('Prompt').fill(choice.prompt);
  await page.getByLabel('Model').selectOption('V1');
  await page.getByLabel('Aspect ratio').selectOption({ label: '16:9' });
  await page.getByRole('button', { name: 'Edit image' }).click();
}

/** The watched job's id once the page shows one. */
export async function watchedJobId(page: Page): Promise<string> {
  const panel = page.locator('.job-panel[data-job-id]');
  await panel.waitFor();
  return (await panel.getAttribute('data-job-id'))!;
}

/** The natural size of every output image once all have loaded. */
export async function loadedOutputSizes(page: Page): Promise<{ width: number; height: number }[]> {
  const images = page.locator('.thumbnails img');
  await images.first().waitFor();
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>('.thumbnails img')].every((i) => i.complete && i.naturalWidth > 0),
  );
  return images.evaluateAll((all) =>
    (all as HTMLImageElement[]).map((i) => ({ width: i.naturalWidth, height: i.naturalHeight })),
  );
}
