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

/** A PNG of `width` x `height` that looks like a photo of a room, as a user's upload would. */
export async function makePng(width: number, height: number): Promise<Buffer> {
  const w = width;
  const h = height;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#e9f1f7"/><stop offset="1" stop-color="#c8d8e4"/></linearGradient>
<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#ffb86b"/><stop offset="1" stop-color="#ffe3b3"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#wall)"/>
<rect y="${h * 0.74}" width="${w}" height="${h * 0.26}" fill="#b08968"/>
<rect x="${w * 0.1}" y="${h * 0.14}" width="${w * 0.34}" height="${h * 0.4}" fill="url(#sky)" stroke="#fff" stroke-width="12"/>
<circle cx="${w * 0.33}" cy="${h * 0.42}" r="${h * 0.06}" fill="#ff8c42"/>
<rect x="${w * 0.52}" y="${h * 0.5}" width="${w * 0.4}" height="${h * 0.18}" rx="18" fill="#6d597a"/>
<rect x="${w * 0.5}" y="${h * 0.44}" width="${w * 0.44}" height="${h * 0.1}" rx="20" fill="#8e7aa1"/>
<rect x="${w * 0.2}" y="${h * 0.62}" width="${w * 0.14}" height="${h * 0.14}" fill="#3d405b"/>
<ellipse cx="${w * 0.27}" cy="${h * 0.6}" rx="${w * 0.05}" ry="${h * 0.05}" fill="#81b29a"/>
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
  images?: number;
}

/** Fills the form (V1, 16:9) and submits it, as a user with a keyboard or a mouse would. */
export async function submitEdit(page: Page, choice: EditChoice): Promise<void> {
  if (choice.file) await page.getByLabel(/Choose a file/).setInputFiles(choice.file);
  if (choice.sample) await page.getByRole('button', { name: choice.sample }).click();
  await page.getByLabel('Prompt').fill(choice.prompt);
  await page.getByLabel('Model').selectOption('V1');
  await page.getByLabel('Aspect ratio').selectOption({ label: '16:9' });
  if (choice.images) await page.getByLabel('Images').fill(String(choice.images));
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
