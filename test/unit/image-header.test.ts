// The image store reads a JPEG or PNG picture's size and orientation from its header (header.ts,
// image-size) instead of through sharp. Judged against sharp (libvips) on pictures other programs
// wrote: every embedded picture of the music-metadata test-suite samples must get the same format,
// size and orientation, and the store must accept and refuse the same pictures, whole or cut, as
// it did when sharp read every header.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { isCutShort } from '../../src/services/images/cut_short.js';
import { pictureHeader } from '../../src/services/images/header.js';
import { ImageStore } from '../../src/services/images/store.js';
import { corpusPictures } from '../helpers/corpus-pictures.js';

const MAX_PIXELS = 100_000_000;
const STORED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff'];

/** what the store decided when sharp read every header: accepted, or refused */
async function verdictBySharp(bytes: Buffer): Promise<boolean> {
  try {
    const meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
    if (!meta.format || !STORED_FORMATS.includes(meta.format) || !meta.width || !meta.height) return false;
    const cut = isCutShort(bytes, meta.format);
    if (cut) return false;
    if (cut === null) await sharp(bytes, { limitInputPixels: MAX_PIXELS }).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
    return true;
  } catch {
    return false;
  }
}

describe('picture headers without sharp', () => {
  it('reads the format, size and orientation sharp reads from every JPEG and PNG of the tag library samples', async () => {
    const pictures = await corpusPictures();
    let compared = 0;
    for (const { file, bytes } of pictures) {
      const meta = await sharp(bytes).metadata().catch(() => null);
      if (!meta || (meta.format !== 'jpeg' && meta.format !== 'png')) continue;
      compared++;
      const expected = { format: meta.format, width: meta.width, height: meta.height, ...(meta.orientation ? { orientation: meta.orientation } : {}) };
      assert.deepEqual(pictureHeader(bytes, MAX_PIXELS), expected, file);
    }
    assert.ok(compared >= 40, `JPEG and PNG pictures compared: ${compared}`);
  });

  it('leaves the store accepting and refusing the same pictures as when sharp read every header', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-header-'));
    try {
      const store = new ImageStore(dir);
      const pictures = await corpusPictures();
      let refused = 0;
      for (const { file, bytes } of pictures) {
        for (const fraction of [1, 0.6, 0.99]) {
          const cut = bytes.subarray(0, Math.floor(bytes.length * fraction));
          const expected = await verdictBySharp(cut);
          const accepted = await store.put(cut).then(
            () => true,
            () => false,
          );
          assert.equal(accepted, expected, `${file}: its picture at ${fraction * 100} % was ${expected ? 'accepted' : 'refused'}`);
          if (!accepted) refused++;
        }
      }
      assert.ok(refused > 0, 'some pictures are refused');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads each EXIF orientation of a JPEG as sharp does', async () => {
    const pixels = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7919) % 251));
    for (let orientation = 1; orientation <= 8; orientation++) {
      const jpeg = await sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).jpeg().withMetadata({ orientation }).toBuffer();
      const meta = await sharp(jpeg).metadata();
      assert.equal(meta.orientation, orientation);
      assert.deepEqual(pictureHeader(jpeg, MAX_PIXELS), { format: 'jpeg', width: 40, height: 30, orientation });
    }
  });

  it('leaves to sharp what it could read differently: other formats, Apple PNGs, more pixels than allowed, bytes that are no picture', async () => {
    const pixels = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7919) % 251));
    const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
    assert.equal(pictureHeader(await sharp(pixels, raw).webp().toBuffer(), MAX_PIXELS), null);
    assert.equal(pictureHeader(await sharp(pixels, raw).gif().toBuffer(), MAX_PIXELS), null);
    const png = await sharp(pixels, raw).png().toBuffer();
    assert.deepEqual(pictureHeader(png, MAX_PIXELS), { format: 'png', width: 40, height: 30 });
    assert.equal(pictureHeader(png, 40 * 30 - 1), null);
    // Apple's CgBI PNG: a chunk of its own before IHDR, which libpng refuses
    const cgbi = Buffer.concat([png.subarray(0, 8), Buffer.from([0, 0, 0, 4]), Buffer.from('CgBI', 'latin1'), Buffer.from([0x50, 0x00, 0x20, 0x02, 0, 0, 0, 0]), png.subarray(8)]);
    assert.equal(pictureHeader(cgbi, MAX_PIXELS), null);
    assert.equal(pictureHeader(Buffer.from('definitely not a picture'), MAX_PIXELS), null);
    assert.equal(pictureHeader(Buffer.alloc(0), MAX_PIXELS), null);
  });
});
