import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { identifyImage } from '../../src/services/uploads/image-check.js';

// What an upload is, by its bytes: each accepted format made by sharp, HEIC by its ftyp brand, and refusals naming
// `file`.

const base = () => sharp({ create: { width: 30, height: 20, channels: 3, background: '#808080' } });

describe('identifyImage', () => {
  it.each([
    ['image/png', () => base().png().toBuffer()],
    ['image/jpeg', () => base().jpeg().toBuffer()],
    ['image/webp', () => base().webp().toBuffer()],
    ['image/avif', () => base().avif().toBuffer()],
  ])('reads %s with its size', async (contentType, make) => {
    expect(await identifyImage(await make())).toEqual({ contentType, width: 30, height: 20 });
  });

  it('takes a HEIC by its ftyp brand when sharp cannot decode HEVC, without a size', async () => {
    const box = Buffer.alloc(24);
    box.writeUInt32BE(24, 0);
    box.write('ftypheic', 4, 'latin1');
    box.write('mif1heic', 16, 'latin1');
    expect(await identifyImage(box)).toEqual({ contentType: 'image/heic', width: null, height: null });
  });

  it('refuses text, GIF, and an MP4 (ftyp, but not a HEIC brand) as BAD_USER_INPUT naming file', async () => {
    const mp4 = Buffer.alloc(24);
    mp4.write('ftypisom', 4, 'latin1');
    for (const bytes of [Buffer.from('hello, not an image'), await base().gif().toBuffer(), mp4]) {
      await expect(identifyImage(bytes)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    }
  });
});
