// Hostile files: a scan of scripts/hostile-library.ts finishes, turns every bad file into an error
// row with a clear reason, keeps the good files next to them, stays within bounded memory, and is
// not hung by a pipe or a stuck read; files deleted and rewritten while the scan reads them end,
// after the next scan, as exactly what is on disk.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateHostileLibrary, type HostileLibrary } from '../../scripts/hostile-library.js';
import { seededRandom } from '../../scripts/random.js';
import { mp3WithTags, stripId3 } from '../../scripts/tag-writers.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { extractFile, extractFiles } from '../../src/workers/scan/metadata_extractor.js';
import { testLogger } from '../helpers/brokers.js';
import { runtimeSetups, scan } from '../helpers/runtimes.js';

async function rows(runtime: Runtime) {
  const { db } = runtime.database;
  const tracks = await db.selectFrom('tracks').select(['path', 'title']).where('missing_since', 'is', null).execute(); // missing: file gone
  const errors = await db.selectFrom('scan_errors').select(['path', 'message']).execute();
  return { tracks: new Map(tracks.map((t) => [t.path, t.title])), errors: new Map(errors.map((e) => [e.path, e.message])) };
}

describe('hostile files', () => {
  let dir: string;
  let library: HostileLibrary;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hostile-'));
    library = await generateHostileLibrary(path.join(dir, 'music'));
  });
  after(() => {
    for (const entry of library.entries) if (fs.existsSync(entry.path)) fs.chmodSync(entry.path, 0o644);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const setup of runtimeSetups) {
    it(`${setup.name}: every bad file is an error row with its reason, every good one a track, in bounded memory`, async () => {
      const made = await setup.config(path.join(dir, `data-${setup.name.slice(0, 3)}`));
      const runtime = await openRuntime(made.config, testLogger);
      let peak = 0;
      const before = process.memoryUsage().rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      try {
        const started = Date.now();
        const session = await scan(runtime, library.root);
        clearInterval(sampler);
        const seconds = (Date.now() - started) / 1000;
        const { tracks, errors } = await rows(runtime);
        const problems: string[] = [];
        for (const entry of library.entries) {
          const isTrack = tracks.has(entry.path);
          const error = errors.get(entry.path);
          if (isTrack === (error !== undefined)) problems.push(`${entry.what}: track ${isTrack}, error ${error}`);
          else if (entry.expect === 'track' && !isTrack) problems.push(`${entry.what}: should be a track, got error "${error}"`);
          else if (entry.expect === 'error' && isTrack) problems.push(`${entry.what}: should be an error row`);
          else if (error !== undefined && entry.reason && !entry.reason.test(error)) problems.push(`${entry.what}: unclear reason "${error}"`);
        }
        const known = new Set(library.entries.map((e) => e.path));
        for (const p of [...tracks.keys(), ...errors.keys()]) if (!known.has(p)) problems.push(`a row for a file that is not in the library (or a second one): ${JSON.stringify(p)}`);
        assert.deepEqual(problems, []);
        assert.equal(session.discovered, library.entries.length);
        const growth = (peak - before) / 2 ** 20;
        console.log(`# ${setup.name}: ${library.entries.length} hostile files in ${seconds.toFixed(1)} s, ${errors.size} error rows, ${tracks.size} tracks, RSS growth ${growth.toFixed(0)} MiB`);
        // the biggest file is 24 MiB; a parser that believed a 200 MiB or 2^31-entry header would blow this
        assert.ok(growth < 200, `RSS grew by ${growth.toFixed(0)} MiB`);
      } finally {
        clearInterval(sampler);
        await runtime.close();
        await made.cleanup();
      }
    });
  }

  it('turns a read that never returns (a hung network mount) into an error row after the per-file timeout, and goes on', async () => {
    const good = library.entries.find((e) => e.path.endsWith('01 - fine.mp3'))!.path;
    const hung = path.join(library.root, 'nfs', 'hung.mp3');
    // the read of `hung` never settles, as a read from a dead NFS server does; the others are real
    const read = (file: string) => (file === hung ? new Promise<never>(() => undefined) : extractFile(file));
    const started = Date.now();
    const outcome = await extractFiles([hung, good], undefined, 300, read);
    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(outcome.items.map((i) => i.path), [good]);
    assert.deepEqual(outcome.errors.map((e) => e.path), [hung]);
    assert.match(outcome.errors[0]!.message, /took longer than/);
  });

  it('ends, after the next scan, with exactly the files on disk when files are deleted and rewritten during a scan', async () => {
    const made = await runtimeSetups[0]!.config(path.join(dir, 'data-churn'));
    const runtime = await openRuntime(made.config, testLogger);
    const churn = path.join(dir, 'churn');
    const random = seededRandom(11);
    const audio = stripId3(fs.readFileSync(library.entries.find((e) => e.path.endsWith('01 - fine.mp3'))!.path));
    const write = (i: number) => fs.writeFileSync(path.join(churn, `f${i}.mp3`), mp3WithTags(audio, { title: `Churn ${i} ${random().toFixed(4)}`, artists: ['Churner'], album: 'Churn' }));
    fs.mkdirSync(churn, { recursive: true });
    for (let i = 0; i < 60; i++) write(i);
    let stop = false;
    let changes = 0;
    const mutator = (async () => {
      while (!stop) {
        const i = Math.floor(random() * 60);
        const file = path.join(churn, `f${i}.mp3`);
        const roll = random();
        if (roll < 0.35) fs.rmSync(file, { force: true });
        else if (roll < 0.7) write(i);
        else if (fs.existsSync(file)) fs.truncateSync(file, Math.floor(random() * 2000));
        changes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      await scan(runtime, churn);
      stop = true;
      await mutator;
      await scan(runtime, churn);
      const { tracks, errors } = await rows(runtime);
      const onDisk = fs.readdirSync(churn).map((n) => path.join(churn, n)).sort();
      const accounted = [...tracks.keys(), ...errors.keys()].sort();
      assert.deepEqual(accounted, onDisk, 'one row per file on disk, none for a deleted file');
      // each row is what the file holds now, not what it held when the first scan read it
      const now = await extractFiles(onDisk);
      for (const item of now.items) assert.equal(tracks.get(item.path), item.title, item.path);
      for (const error of now.errors) assert.ok(errors.has(error.path), error.path);
      console.log(`# churn: ${changes} deletions/rewrites/truncations during the first scan; after the second, ${tracks.size} tracks + ${errors.size} error rows = ${onDisk.length} files on disk`);
    } finally {
      stop = true;
      await mutator;
      await runtime.close();
      await made.cleanup();
    }
  });
});
