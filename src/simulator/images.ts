import sharp, { type Metadata } from 'sharp';
import { type AiEditModel, ASPECT_RATIO_SIZES, type AspectRatio, type ImageFormat } from '../domain/job.js';

// Real pixels for the simulator: sample inputs, input inspection, and "edited" outputs (the input fitted to the
// output size, tinted, with the prompt and the image's index drawn on it).

/** Claid's AiEditImageObject as it appears on the wire. */
export interface WireImageObject {
  ext: string;
  mps: number;
  mime: string;
  format: string;
  width: number;
  height: number;
}

export class UnsupportedImageError extends Error {
  override name = 'UnsupportedImageError';
}

const INPUT_FORMATS: Record<string, { ext: string; mime: string; format: string }> = {
  jpeg: { ext: 'jpg', mime: 'image/jpeg', format: 'JPEG' },
  png: { ext: 'png', mime: 'image/png', format: 'PNG' },
  webp: { ext: 'webp', mime: 'image/webp', format: 'WEBP' },
  avif: { ext: 'avif', mime: 'image/avif', format: 'AVIF' },
  heic: { ext: 'heic', mime: 'image/heic', format: 'HEIC' },
};

export const OUTPUT_FORMATS: Record<ImageFormat, { ext: 'jpg' | 'png'; mime: string; format: 'JPEG' | 'PNG' }> = {
  jpeg: { ext: 'jpg', mime: 'image/jpeg', format: 'JPEG' },
  png: { ext: 'png', mime: 'image/png', format: 'PNG' },
};

export const megapixels = (width: number, height: number): number => Math.round((width * height) / 10_000) / 100;

/** Reads what Claid reports as `input_object`; throws UnsupportedImageError for anything Claid would not take. */
export async function inspectInput(buffer: Buffer): Promise<WireImageObject> {
  let meta: Metadata;
  try {
    meta = await sharp(buffer).metadata();
  } catch {
    throw new UnsupportedImageError('The input file is not an image that can be decoded');
  }
  let key: string = meta.format ?? 'unknown';
  if (key === 'heif') key = meta.compression === 'av1' ? 'avif' : 'heic';
  const info = INPUT_FORMATS[key];
  if (!info) {
    throw new UnsupportedImageError(`Unsupported input image format '${key}'; supported: JPEG, PNG, WEBP, AVIF, HEIC`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new UnsupportedImageError('The input image has no dimensions');
  return { ...info, width, height, mps: megapixels(width, height) };
}

/** v1 with an aspect ratio: Claid's documented size. Otherwise the input's ratio, long side 2048 (v2) or 1024 (v1). */
export function outputSize(
  model: AiEditModel,
  aspectRatio: AspectRatio | undefined,
  input: { width: number; height: number },
): { width: number; height: number } {
  if (model === 'v1' && aspectRatio) return { ...ASPECT_RATIO_SIZES[aspectRatio] };
  const longSide = model === 'v2' ? 2048 : 1024;
  const scale = longSide / Math.max(input.width, input.height);
  return {
    width: Math.max(1, Math.round(input.width * scale)),
    height: Math.max(1, Math.round(input.height * scale)),
  };
}

/** XML-escapes text for SVG and drops characters XML 1.0 forbids (they would make librsvg reject the overlay). */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[\uD800-\uDFFF]/g, (ch, offset: number, s: string) => {
      // keep well-formed surrogate pairs, drop lone halves
      const code = ch.charCodeAt(0);
      if (code <= 0xdbff) {
        const next = s.charCodeAt(offset + 1);
        return next >= 0xdc00 && next <= 0xdfff ? ch : '';
      }
      const prev = s.charCodeAt(offset - 1);
      return prev >= 0xd800 && prev <= 0xdbff ? ch : '';
    })
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function wrap(text: string, maxChars: number, maxLines: number): string[] {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const piece = word.length > maxChars ? `${word.slice(0, maxChars - 1)}…` : word;
    if (!line) line = piece;
    else if (line.length + 1 + piece.length <= maxChars) line += ` ${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
    if (lines.length === maxLines) break;
  }
  if (lines.length < maxLines && line) lines.push(line);
  const shown = lines.join(' ').length;
  if (shown < text.replace(/\s+/g, ' ').trim().length && lines.length > 0) {
    const last = lines[lines.length - 1]!;
    lines[lines.length - 1] = `${last.slice(0, Math.max(0, maxChars - 1))}…`;
  }
  return lines;
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function overlaySvg(
  width: number,
  height: number,
  prompt: string,
  model: AiEditModel,
  index: number,
  count: number,
): Buffer {
  const hue = (hashString(prompt) + index * 67) % 360;
  const font = Math.max(12, Math.round(Math.min(width, height) / 28));
  const lines = wrap(prompt, Math.max(10, Math.floor((width * 0.9) / (font * 0.55))), 3);
  const bandHeight = Math.round(font * (lines.length * 1.3 + 1.2));
  const textY = height - bandHeight + Math.round(font * 1.4);
  const tspans = lines
    .map(
      (l, i) =>
        `<tspan x="${Math.round(width * 0.05)}" y="${textY + Math.round(i * font * 1.3)}">${escapeXml(l)}</tspan>`,
    )
    .join('');
  // a "generated" object whose place depends on the index, so every image of a task looks different
  const cx = Math.round(width * (0.2 + 0.6 * (((index * 37) % 100) / 100)));
  const cy = Math.round(height * 0.35);
  const r = Math.round(Math.min(width, height) * 0.08);
  const badge = `Claid simulator · ${model} · image ${index + 1}/${count}`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="hsl(${hue},80%,50%)" fill-opacity="0.22"/>
<circle cx="${cx}" cy="${cy}" r="${r}" fill="hsl(${(hue + 180) % 360},90%,60%)" fill-opacity="0.85" stroke="#fff" stroke-width="${Math.max(2, Math.round(r / 10))}"/>
<rect x="0" y="0" width="100%" height="${Math.round(font * 2)}" fill="#000" fill-opacity="0.45"/>
<text x="${Math.round(width * 0.02)}" y="${Math.round(font * 1.35)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#fff">${escapeXml(badge)}</text>
<rect x="0" y="${height - bandHeight}" width="100%" height="${bandHeight}" fill="#000" fill-opacity="0.55"/>
<text font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#fff">${tspans}</text>
</svg>`;
  return Buffer.from(svg);
}

export interface RenderSpec {
  input: Buffer;
  width: number;
  height: number;
  prompt: string;
  model: AiEditModel;
  count: number;
  format: ImageFormat;
}

export async function renderOutputs(spec: RenderSpec): Promise<Buffer[]> {
  const { width, height } = spec;
  const base = await sharp(spec.input, { failOn: 'error' })
    .autoOrient()
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer();
  return Promise.all(
    Array.from({ length: spec.count }, (_, index) => {
      const image = sharp(base, { raw: { width, height, channels: 3 } }).composite([
        { input: overlaySvg(width, height, spec.prompt, spec.model, index, spec.count), top: 0, left: 0 },
      ]);
      return (spec.format === 'jpeg' ? image.jpeg({ quality: 85 }) : image.png({ compressionLevel: 2 })).toBuffer();
    }),
  );
}

export interface SampleImage {
  file: string;
  width: number;
  height: number;
  mime: string;
}

export const SAMPLES: readonly SampleImage[] = [
  { file: 'living-room.jpg', width: 1600, height: 1067, mime: 'image/jpeg' },
  { file: 'portrait.jpg', width: 800, height: 1200, mime: 'image/jpeg' },
  { file: 'square.png', width: 1000, height: 1000, mime: 'image/png' },
];

function sampleSvg(file: string, w: number, h: number): string {
  switch (file) {
    case 'living-room.jpg':
      return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#f3e9d8"/><stop offset="1" stop-color="#d9c7a8"/></linearGradient>
<linearGradient id="floor" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#9b6b43"/><stop offset="1" stop-color="#6e4526"/></linearGradient>
<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#7ec8f2"/><stop offset="1" stop-color="#d8f0fb"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#wall)"/>
<rect y="${h * 0.72}" width="${w}" height="${h * 0.28}" fill="url(#floor)"/>
<rect x="${w * 0.62}" y="${h * 0.12}" width="${w * 0.26}" height="${h * 0.36}" fill="url(#sky)" stroke="#fff" stroke-width="14"/>
<line x1="${w * 0.75}" y1="${h * 0.12}" x2="${w * 0.75}" y2="${h * 0.48}" stroke="#fff" stroke-width="10"/>
<rect x="${w * 0.12}" y="${h * 0.5}" width="${w * 0.42}" height="${h * 0.2}" rx="24" fill="#3e6b8a"/>
<rect x="${w * 0.1}" y="${h * 0.44}" width="${w * 0.46}" height="${h * 0.12}" rx="28" fill="#4f82a6"/>
<rect x="${w * 0.14}" y="${h * 0.7}" width="${w * 0.03}" height="${h * 0.06}" fill="#2b2b2b"/>
<rect x="${w * 0.49}" y="${h * 0.7}" width="${w * 0.03}" height="${h * 0.06}" fill="#2b2b2b"/>
<ellipse cx="${w * 0.33}" cy="${h * 0.86}" rx="${w * 0.2}" ry="${h * 0.05}" fill="#c94f3d" fill-opacity="0.8"/>
<line x1="${w * 0.06}" y1="${h * 0.3}" x2="${w * 0.06}" y2="${h * 0.72}" stroke="#333" stroke-width="8"/>
<polygon points="${w * 0.02},${h * 0.3} ${w * 0.1},${h * 0.3} ${w * 0.08},${h * 0.2} ${w * 0.04},${h * 0.2}" fill="#f6d36b"/>
</svg>`;
    case 'portrait.jpg':
      return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><radialGradient id="bg" cx="0.5" cy="0.35" r="0.8"><stop offset="0" stop-color="#fbe3c4"/><stop offset="1" stop-color="#8a5a7a"/></radialGradient></defs>
<rect width="${w}" height="${h}" fill="url(#bg)"/>
<ellipse cx="${w * 0.5}" cy="${h * 1.02}" rx="${w * 0.42}" ry="${h * 0.3}" fill="#2f4f6f"/>
<rect x="${w * 0.43}" y="${h * 0.5}" width="${w * 0.14}" height="${h * 0.16}" fill="#e0b38f"/>
<ellipse cx="${w * 0.5}" cy="${h * 0.38}" rx="${w * 0.2}" ry="${h * 0.17}" fill="#eac09b"/>
<path d="M ${w * 0.3} ${h * 0.36} Q ${w * 0.5} ${h * 0.1} ${w * 0.7} ${h * 0.36} Q ${w * 0.66} ${h * 0.22} ${w * 0.5} ${h * 0.2} Q ${w * 0.34} ${h * 0.22} ${w * 0.3} ${h * 0.36} Z" fill="#4a2e1f"/>
<circle cx="${w * 0.43}" cy="${h * 0.38}" r="${w * 0.018}" fill="#2a2a2a"/>
<circle cx="${w * 0.57}" cy="${h * 0.38}" r="${w * 0.018}" fill="#2a2a2a"/>
<path d="M ${w * 0.44} ${h * 0.45} Q ${w * 0.5} ${h * 0.48} ${w * 0.56} ${h * 0.45}" stroke="#a0504a" stroke-width="6" fill="none"/>
</svg>`;
    default:
      return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d3557"/><stop offset="1" stop-color="#457b9d"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#g)"/>
<circle cx="${w * 0.3}" cy="${h * 0.3}" r="${w * 0.16}" fill="#e63946"/>
<rect x="${w * 0.55}" y="${h * 0.2}" width="${w * 0.3}" height="${h * 0.3}" fill="#f1faee" transform="rotate(12 ${w * 0.7} ${h * 0.35})"/>
<polygon points="${w * 0.5},${h * 0.55} ${w * 0.8},${h * 0.9} ${w * 0.2},${h * 0.9}" fill="#a8dadc"/>
</svg>`;
  }
}

export async function renderSample(sample: SampleImage): Promise<Buffer> {
  const image = sharp(Buffer.from(sampleSvg(sample.file, sample.width, sample.height)));
  return (sample.mime === 'image/png' ? image.png() : image.jpeg({ quality: 88 })).toBuffer();
}
