import { writeFile } from 'node:fs/promises';
import { renderSample, SAMPLES } from '../src/simulator/images.js';

// The web app's sample images (web/public/samples/): the simulator's samples at half size, so that the bundle stays
// small. Run with `npx tsx scripts/render-web-samples.ts` after changing the simulator's pictures.

const dir = new URL('../web/public/samples/', import.meta.url);
for (const sample of SAMPLES) {
  const half = { ...sample, width: Math.round(sample.width / 2), height: Math.round(sample.height / 2) };
  await writeFile(new URL(sample.file, dir), await renderSample(half));
}
