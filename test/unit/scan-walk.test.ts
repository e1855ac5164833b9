import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { folderFingerprint } from '../../src/workers/scan/scan_worker.js';
import { walkFolders, type FolderListing } from '../../src/workers/scan/walk.js';

async function walk(root: string): Promise<FolderListing[]> {
  const out: FolderListing[] = [];
  for await (const listing of walkFolders(root, fs.realpathSync(root))) out.push(listing);
  return out;
}

function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-walk-'));
  const touch = (rel: string, bytes = 'x') => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), bytes);
  };
  touch('A/one.mp3');
  touch('A/two.FLAC');
  touch('A/cover.jpg');
  touch('A/notes.txt');
  touch('B/C/three.opus');
  touch('.hidden/four.mp3');
  touch('A/.five.mp3');
  return root;
}

describe('library walk', () => {
  it('lists audio files of every folder by extension, case-insensitively, and skips hidden entries', async () => {
    const root = tree();
    const found = (await walk(root)).flatMap((l) => l.files.map((f) => path.relative(root, f.path))).sort();
    assert.deepEqual(found, ['A/one.mp3', 'A/two.FLAC', 'B/C/three.opus']);
  });

  it('follows a link inside the root once, never a link outside it, and survives loops and broken links', async () => {
    const root = tree();
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-outside-'));
    fs.writeFileSync(path.join(outside, 'stolen.mp3'), 'x');
    fs.symlinkSync(outside, path.join(root, 'escape'));
    fs.symlinkSync(root, path.join(root, 'B', 'loop'));
    fs.symlinkSync(path.join(root, 'B', 'C'), path.join(root, 'Alias-of-C'));
    fs.symlinkSync(path.join(root, 'nowhere'), path.join(root, 'A', 'broken.mp3'));
    const listings = await walk(root);
    const files = listings.flatMap((l) => l.files.map((f) => f.path));
    assert.ok(!files.some((f) => f.includes('stolen')), 'a link must never lead out of the root');
    assert.equal(files.filter((f) => f.endsWith('three.opus')).length, 1, 'a folder reached twice is listed once');
    assert.ok(!files.some((f) => f.endsWith('broken.mp3')));
    assert.equal(new Set(listings.map((l) => l.dir)).size, listings.length);
    assert.deepEqual(files.filter((f) => f.endsWith('three.opus')), [path.join(root, 'B', 'C', 'three.opus')], 'a linked folder is listed at its real path, wherever the link sorts');
  });

  it('enters a hidden folder through a link, once, even when links inside it loop', async () => {
    const root = tree();
    fs.mkdirSync(path.join(root, '.stash', 'Deep'), { recursive: true });
    fs.writeFileSync(path.join(root, '.stash', 'Deep', 'six.mp3'), 'x');
    fs.symlinkSync(path.join(root, '.stash'), path.join(root, 'stash'));
    fs.symlinkSync(path.join(root, '.stash', 'Deep'), path.join(root, 'A', 'deep'));
    fs.symlinkSync(path.join(root, '.stash'), path.join(root, '.stash', 'Deep', 'up'));
    fs.symlinkSync(path.join(root, 'B'), path.join(root, '.stash', 'b'));
    const listings = await walk(root);
    const files = listings.flatMap((l) => l.files.map((f) => path.relative(root, f.path))).sort();
    // six.mp3 once, by the first link in walk order; the links back up and out of .stash lead nowhere new
    assert.deepEqual(files, ['A/deep/six.mp3', 'A/one.mp3', 'A/two.FLAC', 'B/C/three.opus']);
    assert.equal(new Set(listings.map((l) => l.dir)).size, listings.length);
  });

  it('reports a folder it cannot list instead of failing the walk', { skip: process.getuid?.() === 0 && 'root reads every folder' }, async () => {
    const root = tree();
    fs.chmodSync(path.join(root, 'B'), 0);
    const listings = await walk(root);
    assert.match(listings.find((l) => l.dir.endsWith('B'))?.error ?? '', /permission denied/);
    fs.chmodSync(path.join(root, 'B'), 0o755);
  });

  it('changes a folder fingerprint when a file is added, resized or touched, not otherwise', async () => {
    const root = tree();
    const print = async () => folderFingerprint((await walk(root)).find((l) => l.dir.endsWith('A'))!);
    const first = await print();
    assert.equal(await print(), first);
    fs.writeFileSync(path.join(root, 'A', 'one.mp3'), 'xy');
    const resized = await print();
    assert.notEqual(resized, first);
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(path.join(root, 'A', 'two.FLAC'), later, later);
    assert.notEqual(await print(), resized);
  });
});
