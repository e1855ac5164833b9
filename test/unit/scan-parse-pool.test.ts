import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { after, describe, it } from 'node:test';
import { parseFile } from 'music-metadata';
import { ImageStore } from '../../src/services/images/store.js';
import { extractFiles, frontPicture } from '../../src/workers/scan/metadata_extractor.js';
import { ParsePool } from '../../src/workers/scan/parse_pool.js';
import { sharing } from '../../src/workers/scan/shared_tag_mappers.js';
import { isAudioFile } from '../../src/workers/scan/walk.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// real files from music-metadata's own test suite (MIT), read in place
const CORPUS = path.resolve(REPO, '..', 'shared', 'corpora', 'music-metadata-samples');

function corpusFiles(): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(CORPUS, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && isAudioFile(entry.name)) files.push(full);
  }
  return files.sort();
}

describe('music-metadata tag mappers shared across parses', () => {
  it('builds each tag mapper once per thread', () => {
    const { shared, mapperOf } = sharing();
    assert.equal(shared, true, 'the music-metadata layout changed: tag mappers are rebuilt per file again');
    for (const tagType of ['ID3v2.4', 'vorbis', 'iTunes', 'APEv2', 'exif']) {
      const first = mapperOf(tagType);
      assert.ok(first, `no mapper for ${tagType}`);
      assert.equal(mapperOf(tagType), first, `${tagType}: a new mapper per parse`);
    }
  });

  it('parses every file of the real-world corpus exactly as unshared music-metadata does', () => {
    // two fresh processes over the same files: plain music-metadata, and with the sharing loaded first
    const script = (withSharing: boolean) => `
      ${withSharing ? `await import(${JSON.stringify(path.join(REPO, 'src/workers/scan/shared_tag_mappers.ts'))});` : ''}
      const { parseFile } = await import('music-metadata');
      const out = {};
      for (const file of ${JSON.stringify(corpusFiles())}) {
        try {
          const { common, native, format } = await parseFile(file, { duration: false });
          out[file] = JSON.stringify({ common, native, format }, (k, v) => (v && v.type === 'Buffer' ? v.data.length : typeof v === 'bigint' ? String(v) : v));
        } catch (err) { out[file] = 'error: ' + err.message; }
      }
      process.stdout.write(JSON.stringify(out));`;
    const run = (withSharing: boolean) =>
      JSON.parse(execFileSync(process.execPath, [...(withSharing ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script(withSharing)], { cwd: REPO, maxBuffer: 256 << 20 }).toString()) as Record<string, string>;
    const plain = run(false);
    const shared = run(true);
    assert.ok(Object.keys(plain).length >= 50, `corpus: ${Object.keys(plain).length} audio files`);
    for (const file of Object.keys(plain)) assert.equal(shared[file], plain[file], path.relative(CORPUS, file));
  });
});

describe('parse pool', () => {
  const pools: ParsePool[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it('reads a batch in its threads exactly as the extractor does in-process', async () => {
    const files = corpusFiles();
    const pool = new ParsePool(2);
    pools.push(pool);
    const [threaded, inline] = await Promise.all([pool.extract(files, [fs.realpathSync(CORPUS)]), extractFiles(files)]);
    const byPath = <T extends { path: string }>(rows: T[]) => [...rows].sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(byPath(threaded.items), byPath(inline.items));
    assert.deepEqual(byPath(threaded.errors), byPath(inline.errors));
    assert.ok(threaded.items.length > 40);
  });

  it('stores the JPEG and PNG front pictures it reads, as the covers job would, and leaves the others to it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pool-pictures-'));
    try {
      const files = corpusFiles();
      const pool = new ParsePool(1);
      pools.push(pool);
      const threadStore = new ImageStore(path.join(dir, 'thread'));
      const { items } = await pool.extract(files, [fs.realpathSync(CORPUS)], undefined, threadStore.dir);
      // what the covers job's put() makes of each front picture, in a store of its own
      const jobStore = new ImageStore(path.join(dir, 'job'));
      let stored = 0;
      let left = 0;
      for (const item of items.filter((i) => i.pictureHash)) {
        const front = frontPicture((await parseFile(item.path, { duration: false })).common.picture)!;
        const bytes = Buffer.from(front.data);
        const expected = await jobStore.put(bytes).then(
          (image) => ({ ...image, created: false }),
          () => null,
        );
        const byThread = threadStore.stored(item.pictureHash!);
        if (expected && /^image\/(jpeg|png)$/.test(expected.mime)) {
          assert.deepEqual(byThread, expected, `${item.path}: its picture stored by the thread`);
          stored++;
        } else {
          assert.equal(byThread, null, `${item.path}: its picture is the covers job's to read (${expected?.mime ?? 'refused'})`);
          left++;
        }
      }
      assert.ok(stored >= 20, `pictures stored by the thread: ${stored}`);
      assert.ok(left > 0, 'some pictures are left to the covers job (refused or not JPEG/PNG)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns only the file that hangs or kills the parser into an error row; its neighbours are read', async () => {
    // a stand-in parser thread: answers every file, loops forever on "hang", exits on "crash"
    const thread = `
      const { parentPort } = await import('node:worker_threads');
      parentPort.on('message', ({ id, paths }) => {
        for (const p of paths) {
          if (p.includes('hang')) for (;;);
          if (p.includes('crash')) process.exit(3);
          parentPort.postMessage({ id, result: { path: p, size: 1, mtimeMs: 1, stage: 'test', message: 'read ' + p } });
        }
        parentPort.postMessage({ id, done: true, late: [] });
      });
      parentPort.postMessage({ ready: true });`;
    const pool = new ParsePool(1, 1_000, () => new Worker(new URL(`data:text/javascript,${encodeURIComponent(thread)}`)));
    pools.push(pool);
    const paths = ['/a', '/b-hang', '/c', '/d-crash', '/e'];
    const { items, errors } = await pool.extract(paths, ['/']);
    assert.equal(items.length, 0);
    assert.deepEqual(
      errors.map((e) => [e.path, e.message.startsWith('read') ? 'read' : e.message.includes('stopped answering') ? 'stalled' : e.message.includes('crashed') ? 'crashed' : e.message]),
      [
        ['/a', 'read'],
        ['/b-hang', 'stalled'],
        ['/c', 'read'],
        ['/d-crash', 'crashed'],
        ['/e', 'read'],
      ],
    );
    // the pool goes on with fresh threads; a path given twice is answered twice
    assert.deepEqual((await pool.extract(['/f', '/f'], ['/'])).errors.map((e) => e.message), ['read /f', 'read /f']);
  });

  it('gives up waiting when its job is cancelled', async () => {
    const pool = new ParsePool(1);
    pools.push(pool);
    const controller = new AbortController();
    const pending = pool.extract(corpusFiles(), [fs.realpathSync(CORPUS)], controller.signal);
    controller.abort(new Error('cancelled by the test'));
    await assert.rejects(pending, /cancelled by the test/);
  });
});
