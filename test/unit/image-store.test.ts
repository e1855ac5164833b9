import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { CorruptImageError, ImageStore } from '../../src/services/images/store.js';

const store = () => new ImageStore(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-images-')));

/** the names of a stored picture's files (`<hh>/<hash>.<name>`) */
function entryFiles(images: ImageStore, hash: string): string[] {
  return fs.readdirSync(path.join(images.dir, hash.slice(0, 2))).filter((f) => f.startsWith(`${hash}.`)).map((f) => f.slice(hash.length + 1)).sort();
}

describe('image store', () => {
  it('keeps the original once; renders every size in WebP and JPEG afterwards (renderAll), without upscaling', async () => {
    const images = store();
    const jpeg = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const first = await images.put(jpeg);
    const again = await images.put(jpeg);
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.hash, first.hash);
    assert.deepEqual([first.mime, first.width, first.height], ['image/jpeg', 800, 600]);
    // storing (what a scan does) renders nothing: the sizes come after the scan; no folder per picture
    assert.deepEqual(entryFiles(images, first.hash), ['meta.json', 'original.jpg']);
    assert.deepEqual(fs.readdirSync(path.join(images.dir, first.hash.slice(0, 2))).filter((f) => fs.statSync(path.join(images.dir, first.hash.slice(0, 2), f)).isDirectory()), []);
    assert.equal(await images.renderAll(first.hash), true);
    assert.deepEqual(entryFiles(images, first.hash), ['1024.jpg', '1024.webp', '256.jpg', '256.webp', '512.jpg', '512.webp', '64.jpg', '64.webp', 'meta.json', 'original.jpg']);
    assert.ok(fs.readFileSync(images.fileOf(first.hash, 'original.jpg')).equals(jpeg));
    const sizes = await Promise.all([64, 256, 512, 1024].map(async (s) => (await sharp(images.renditionPath(first.hash, s, 'webp')).metadata()).width));
    assert.deepEqual(sizes, [64, 256, 512, 800], 'aspect kept, never enlarged');
    assert.equal((await sharp(images.renditionPath(first.hash, 64, 'jpeg')).metadata()).height, 48);
    assert.equal(images.pathFor(first.hash, 300, 'webp'), images.renditionPath(first.hash, 512, 'webp'));
    assert.equal(images.pathFor(first.hash, 4000, 'jpeg'), images.renditionPath(first.hash, 1024, 'jpeg'));
  });

  it('renders a PNG with transparency to JPEG on white, and keeps the alpha in WebP', async () => {
    const images = store();
    const png = await sharp({ create: { width: 100, height: 100, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const stored = await images.put(png);
    assert.equal(stored.mime, 'image/png');
    await images.renderAll(stored.hash);
    const jpeg = await sharp(images.renditionPath(stored.hash, 64, 'jpeg')).raw().toBuffer();
    assert.ok(jpeg[0]! > 245 && jpeg[1]! > 245 && jpeg[2]! > 245, `transparent pixels became ${jpeg.subarray(0, 3).join(',')}, expected white`);
    const webp = await sharp(images.renditionPath(stored.hash, 64, 'webp')).metadata();
    assert.equal(webp.hasAlpha, true);
  });

  it('refuses bytes that are not an image, leaving nothing behind', async () => {
    const images = store();
    await assert.rejects(images.put(Buffer.from('definitely not a picture')), CorruptImageError);
    const truncated = (await sharp({ create: { width: 300, height: 300, channels: 3, background: '#fff' } }).jpeg().toBuffer()).subarray(0, 200);
    await assert.rejects(images.put(truncated), CorruptImageError);
    // a whole header but the picture cut short: refused when stored, not later when its sizes are rendered
    const noisy = await sharp(Buffer.from(Array.from({ length: 400 * 400 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 400, height: 400, channels: 3 } }).jpeg().toBuffer();
    await assert.rejects(images.put(noisy.subarray(0, Math.floor(noisy.length * 0.6))), CorruptImageError);
    const left = fs.readdirSync(images.dir, { recursive: true }).filter((f) => !fs.statSync(path.join(images.dir, String(f))).isDirectory());
    assert.deepEqual(left, []);
  });

  it('never serves a truncated rendition and re-renders a truncated or deleted one from the original', async () => {
    const images = store();
    const jpeg = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#993366' } }).jpeg().toBuffer();
    const { hash } = await images.put(jpeg);
    await images.renderAll(hash);
    const truncated = images.renditionPath(hash, 256, 'webp');
    const deleted = images.renditionPath(hash, 64, 'jpeg');
    const good = fs.readFileSync(truncated);
    fs.writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    fs.rmSync(deleted);
    const served = await images.rendition(hash, 256, 'webp');
    assert.ok(served && served.length === good.length, 'the truncated rendition is rendered again, never served');
    assert.equal((await sharp(served).metadata()).width, 256);
    assert.equal(fs.readFileSync(truncated).length, good.length, 'repaired on disk');
    const again = await images.rendition(hash, 64, 'jpeg');
    assert.equal((await sharp(again!).metadata()).width, 64);
    assert.ok(fs.existsSync(deleted));
    // a flipped byte of the same size is caught by the hash
    const bytes = fs.readFileSync(truncated);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    fs.writeFileSync(truncated, bytes);
    assert.ok((await images.rendition(hash, 256, 'webp'))!.equals(good));
    assert.equal(await images.rendition('f'.repeat(64), 256, 'webp'), null, 'an unknown picture is not found');
  });

  it('replaces an entry whose meta.json is damaged instead of refusing the picture for ever', async () => {
    const images = store();
    const png = await sharp({ create: { width: 80, height: 80, channels: 3, background: '#123456' } }).png().toBuffer();
    const { hash } = await images.put(png);
    fs.writeFileSync(images.fileOf(hash, 'meta.json'), '{"hash": "trunc');
    const again = await images.put(png);
    assert.equal(again.created, true);
    assert.equal(again.hash, hash);
    assert.ok(images.has(hash));
    assert.ok(await images.rendition(hash, 64, 'webp'));
  });

  it('reads, renders and removes a picture stored as a folder by an earlier version, where it is', async () => {
    const images = store();
    const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#445566' } }).jpeg().toBuffer();
    const { hash } = await images.put(jpeg);
    // the layout before 2026-12-07: <hh>/<hash>/<name>
    const folder = path.join(images.dir, hash.slice(0, 2), hash);
    fs.mkdirSync(folder);
    for (const name of entryFiles(images, hash)) fs.renameSync(images.fileOf(hash, name, 'flat'), path.join(folder, name));
    assert.ok(images.has(hash));
    assert.deepEqual(images.stored(hash), { hash, mime: 'image/jpeg', width: 300, height: 200, bytes: jpeg.length, created: false });
    assert.equal((await images.put(jpeg)).created, false, 'not stored a second time');
    assert.equal(await images.renderAll(hash), true);
    assert.ok(fs.existsSync(path.join(folder, '256.webp')), 'rendered into its folder');
    assert.equal((await sharp((await images.rendition(hash, 100, 'jpeg'))!).metadata()).width, 256);
    assert.deepEqual(entryFiles(images, hash), [], 'nothing written beside it');
    images.remove(hash);
    assert.equal(fs.existsSync(folder), false);
    assert.equal(images.has(hash), false);
  });

  it('stores a picture after its folder of pictures was emptied by hand', async () => {
    const images = store();
    const first = await images.put(await sharp({ create: { width: 20, height: 20, channels: 3, background: '#010203' } }).png().toBuffer());
    fs.rmSync(images.dir, { recursive: true });
    assert.equal(images.has(first.hash), false);
    assert.equal((await images.put(await sharp({ create: { width: 20, height: 20, channels: 3, background: '#010203' } }).png().toBuffer())).created, true);
    assert.ok(images.has(first.hash));
  });

  it('removes every file of a picture, renditions included', async () => {
    const images = store();
    const { hash } = await images.put(await sharp({ create: { width: 70, height: 70, channels: 3, background: '#aa0000' } }).png().toBuffer());
    await images.renderAll(hash);
    assert.equal(entryFiles(images, hash).length, 10);
    images.remove(hash);
    assert.deepEqual(entryFiles(images, hash), []);
    assert.equal(images.stored(hash), null);
  });
});
