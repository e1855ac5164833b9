// `soniquebay scan <dir>` walks <dir> in a thread while the program loads (walk_prefetch.ts); the
// discovery job takes that walk. It must give exactly what the job's own walk gives: the same
// folders in the same order, links, hidden folders, skipped files and unreadable entries included,
// on a tree larger than what the thread may send ahead of the taker, and when the thread hands the
// rest of the walk over to the job.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { walkFolders, type FolderListing } from '../../src/workers/scan/walk.js';
import { dropPrefetchedWalk, prefetchWalk, takePrefetchedWalk } from '../../src/workers/scan/walk_prefetch.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** 2,600 folders (more than the thread sends ahead: 32 groups of 64), links, hidden entries, a dead link, a pipe */
function bigTree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-prefetch-'));
  dirs.push(root);
  for (let a = 0; a < 52; a++) {
    for (let b = 0; b < 50; b++) {
      const dir = path.join(root, `Artist ${a}`, `Album ${b}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${b} track.mp3`), 'x'.repeat(b + 1));
      if (b % 10 === 0) fs.writeFileSync(path.join(dir, 'cover.jpg'), 'x');
    }
  }
  fs.mkdirSync(path.join(root, '.stash', 'Deep'), { recursive: true });
  fs.writeFileSync(path.join(root, '.stash', 'Deep', 'six.mp3'), 'x');
  fs.writeFileSync(path.join(root, 'Artist 1', '.hidden.mp3'), 'x');
  fs.symlinkSync(path.join(root, '.stash'), path.join(root, 'stash'));
  fs.symlinkSync(root, path.join(root, 'Artist 2', 'loop'));
  fs.symlinkSync(path.join(root, 'nowhere.mp3'), path.join(root, 'Artist 3', 'dead.mp3'));
  fs.symlinkSync(os.tmpdir(), path.join(root, 'escape'));
  return root;
}

async function all(listings: AsyncIterable<FolderListing>): Promise<FolderListing[]> {
  const out: FolderListing[] = [];
  for await (const listing of listings) out.push(listing);
  return out;
}

describe('the walk prefetched in a thread', () => {
  it('gives the discovery job the folders its own walk gives, in the same order', async () => {
    const root = bigTree();
    const realRoot = fs.realpathSync(root);
    const own = await all(walkFolders(root, realRoot));
    prefetchWalk(root);
    const taken = takePrefetchedWalk(root, realRoot);
    assert.ok(taken, 'the walk of this root is there to take');
    const prefetched = await all(taken);
    assert.ok(own.length > 2_600, `a tree of ${own.length} folders`);
    assert.deepEqual(prefetched, own);
    assert.ok(own.some((l) => l.unreadable.some((u) => u.path.endsWith('dead.mp3'))), 'the dead link is reported, by both');
  });

  it('hands the rest of a big walk over, and the job walks on from there: the same folders, in the same order', async () => {
    const root = bigTree();
    const realRoot = fs.realpathSync(root);
    const own = await all(walkFolders(root, realRoot));
    for (const maxFolders of [1, 100, 2_000]) {
      prefetchWalk(root, maxFolders);
      const taken = takePrefetchedWalk(root, realRoot);
      assert.ok(taken);
      assert.deepEqual(await all(taken), own, `handed over after ${maxFolders} folders`);
    }
  });

  it('is taken only for its own root, and once', async () => {
    const root = bigTree();
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-prefetch-other-'));
    dirs.push(other);
    prefetchWalk(root);
    assert.equal(takePrefetchedWalk(other, fs.realpathSync(other)), undefined, 'another root walks by itself');
    assert.equal(takePrefetchedWalk(root, path.join(root, 'elsewhere')), undefined, 'a root that now resolves elsewhere walks by itself');
    const taken = takePrefetchedWalk(root, fs.realpathSync(root));
    assert.ok(taken);
    assert.equal(takePrefetchedWalk(root, fs.realpathSync(root)), undefined, 'a second scan of the root walks by itself');
    // a job that stops early (cancelled) stops the thread: the test process could not end otherwise
    const first = await taken.next();
    assert.equal(first.done, false);
    await taken.return(undefined);
  });

  it('of a root that does not exist is no walk at all: the scan reports the root', () => {
    const missing = path.join(os.tmpdir(), `sb-prefetch-missing-${process.pid}`);
    prefetchWalk(missing);
    assert.equal(takePrefetchedWalk(missing, missing), undefined);
  });

  it('nobody takes is stopped when the command ends', () => {
    const root = bigTree();
    prefetchWalk(root);
    dropPrefetchedWalk();
    assert.equal(takePrefetchedWalk(root, fs.realpathSync(root)), undefined);
  });
});
