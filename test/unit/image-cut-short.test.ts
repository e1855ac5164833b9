// The structural check that replaced the image store's 64-pixel decode (cut_short.ts), judged on
// pictures other programs wrote: every embedded picture of the music-metadata test-suite samples,
// whole and cut short, against what sharp (libvips) decodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { isCutShort } from '../../src/services/images/cut_short.js';
import { corpusPictures } from '../helpers/corpus-pictures.js';

async function decodes(bytes: Uint8Array): Promise<boolean> {
  try {
    await sharp(bytes).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
    return true;
  } catch {
    return false;
  }
}

/** the distinct embedded pictures of the corpus that sharp decodes whole, with their format */
async function wholePictures(): Promise<{ file: string; format: string; bytes: Uint8Array }[]> {
  const out: { file: string; format: string; bytes: Uint8Array }[] = [];
  for (const { file, bytes } of await corpusPictures()) {
    const format = await sharp(bytes)
      .metadata()
      .then((m) => m.format as string | undefined)
      .catch(() => undefined);
    if (format && (await decodes(bytes))) out.push({ file, format, bytes });
  }
  return out;
}

describe('isCutShort', () => {
  it('judges every picture of the tag library samples whole, and every one cut short as cut (stricter than the decode it replaces)', async () => {
    const pictures = await wholePictures();
    assert.ok(pictures.filter((p) => p.format === 'jpeg').length >= 40, `JPEG pictures in the corpus: ${pictures.length}`);
    assert.ok(pictures.some((p) => p.format === 'png'), 'a PNG picture in the corpus');
    let decodedAnyway = 0;
    for (const { file, format, bytes } of pictures) {
      assert.equal(isCutShort(bytes, format), false, `${file}: its ${format} picture is whole`);
      for (const fraction of [0.3, 0.6, 0.9, 0.99]) {
        const cut = bytes.subarray(0, Math.floor(bytes.length * fraction));
        assert.equal(isCutShort(cut, format), true, `${file}: its ${format} picture cut at ${fraction * 100} %`);
        if (await decodes(cut)) decodedAnyway++;
      }
    }
    // libjpeg decodes a few cut pictures without complaint: those were stored by the old check
    assert.ok(decodedAnyway <= 2, `cut pictures the 64-pixel decode accepted: ${decodedAnyway}`);
  });

  it('reads progressive JPEGs, JPEGs with bytes after their end, and leaves other formats to a decode', async () => {
    const pixels = Buffer.from(Array.from({ length: 200 * 200 * 3 }, (_, i) => (i * 7919) % 251));
    const raw = { raw: { width: 200, height: 200, channels: 3 as const } };
    const progressive = await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer();
    assert.equal(isCutShort(progressive, 'jpeg'), false);
    assert.equal(isCutShort(progressive.subarray(0, progressive.length - 3), 'jpeg'), true);
    // tag writers and our own fixtures leave bytes after the end marker: the picture is still whole
    assert.equal(isCutShort(Buffer.concat([progressive, Buffer.from('album 12')]), 'jpeg'), false);
    const png = await sharp(pixels, raw).png().toBuffer();
    assert.equal(isCutShort(png, 'png'), false);
    assert.equal(isCutShort(png.subarray(0, png.length - 1), 'png'), true);
    assert.equal(isCutShort(Buffer.from('not a picture'), 'jpeg'), true);
    const webp = await sharp(pixels, raw).webp().toBuffer();
    assert.equal(isCutShort(webp, 'webp'), null);
  });
});
