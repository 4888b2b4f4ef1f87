import sharp, { type Metadata } from 'sharp';
import { BadUserInputError } from '../../domain/errors.js';
import type { UploadContentType } from '../../domain/upload.js';

// What an upload is, judged by its bytes alone (never by its file name or the type its sender claimed): sharp reads
// the header, the image is not decoded.

export interface ImageFacts {
  contentType: UploadContentType;
  width: number | null;
  height: number | null;
}

const BY_SHARP_FORMAT: Record<string, UploadContentType> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/** ISO-BMFF brands of HEIC/HEIF stills (HEVC): sharp's prebuilt libvips has no HEVC codec and refuses them. */
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1']);

const NOT_AN_IMAGE = 'file must be a JPEG, PNG, WEBP, AVIF or HEIC image (judged by its bytes, not its name)';

/** The image's type and size; BAD_USER_INPUT naming `file` for anything else. */
export async function identifyImage(bytes: Buffer): Promise<ImageFacts> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch {
    if (isHeic(bytes)) return { contentType: 'image/heic', width: null, height: null };
    throw new BadUserInputError(NOT_AN_IMAGE, 'file');
  }
  const contentType =
    meta.format === 'heif'
      ? meta.compression === 'av1'
        ? 'image/avif'
        : 'image/heic'
      : BY_SHARP_FORMAT[meta.format ?? ''];
  if (!contentType) throw new BadUserInputError(`${NOT_AN_IMAGE}; this one is ${meta.format ?? 'unknown'}`, 'file');
  const width = meta.autoOrient?.width ?? meta.width ?? null;
  const height = meta.autoOrient?.height ?? meta.height ?? null;
  return { contentType, width: width || null, height: height || null };
}

/** An ISO-BMFF file (`ftyp` box first) whose major brand is a HEIC one. */
function isHeic(bytes: Buffer): boolean {
  if (bytes.length < 12 || bytes.toString('latin1', 4, 8) !== 'ftyp') return false;
  return HEIC_BRANDS.has(bytes.toString('latin1', 8, 12));
}
