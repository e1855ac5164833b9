import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { VECTOR_DIMENSION } from '../../src/services/vectors/model.js';
import { path as pathBetween, playlist, similar, VectorQueryError } from '../../src/services/vectors/queries.js';
import { LibraryIndex } from '../../src/services/vectors/library_index.js';
import { activeModel, vectorsOf } from '../../src/services/vectors/store.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, runtimeSetups } from '../helpers/runtimes.js';
import { insertSyntheticLibrary, type SyntheticTrack } from '../helpers/vector-library.js';

const PER_GROUP = 30;

for (const setup of runtimeSetups) {
  describe(`vectors — ${setup.name}`, () => {
    let dir: string;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;
    let tracks: SyntheticTrack[];
    const groupOf = new Map<number, string>();

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vectors-'));
      const made = await setup.config(dir);
      cleanup = made.cleanup;
      runtime = await openRuntime(made.config, testLogger);
      tracks = await insertSyntheticLibrary(runtime.database.db, PER_GROUP);
      for (const t of tracks) groupOf.set(t.id, t.group);
    });
    after(async () => {
      await runtime.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers clearly before any model exists', async () => {
      await assert.rejects(similar(runtime.database.db, runtime.vectors, tracks[0]!.id, 5), (err: unknown) => err instanceof VectorQueryError && err.code === 'no_model');
    });

    it('trains the first model when tracks become ready, and gives every track a unit vector of the model dimension', async () => {
      // what analysis does after each batch: ask for the vectors of the tracks it analysed
      await runtime.broker.enqueue('vectorization.calculate_vectors_batch', { trackIds: tracks.map((t) => t.id) });
      await drain(runtime.broker);
      const model = await activeModel(runtime.database.db);
      assert.ok(model, 'a model is active');
      assert.equal(model.dimension, VECTOR_DIMENSION);
      assert.equal(model.trackCount, tracks.length);
      const vectors = await vectorsOf(runtime.database.db, model.version, tracks.map((t) => t.id));
      assert.equal(vectors.size, tracks.length);
      for (const v of vectors.values()) {
        assert.equal(v.length, VECTOR_DIMENSION);
        assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
      }
    });

    it('finds each track itself first, and neighbours from its own group (precision@10)', async () => {
      const { db } = runtime.database;
      const current = (await runtime.vectors.current())!;
      let same = 0;
      let total = 0;
      for (const t of tracks) {
        const own = (await vectorsOf(db, current.version, [t.id])).get(t.id)!;
        assert.equal(current.index.search(own, 1)[0]!.trackId, t.id, `track ${t.id} is its own nearest neighbour`);
        const answer = await similar(db, runtime.vectors, t.id, 10);
        assert.equal(answer.tracks.length, 10);
        assert.ok(answer.tracks.every((h) => h.trackId !== t.id));
        same += answer.tracks.filter((h) => groupOf.get(h.trackId) === t.group).length;
        total += answer.tracks.length;
      }
      const precision = same / total;
      assert.ok(precision >= 0.9, `precision@10 ${precision.toFixed(3)}`);
    });

    it('applies the filters: other artists, a BPM range, a genre, a year range', async () => {
      const { db } = runtime.database;
      const seed = tracks[0]!;
      const other = await similar(db, runtime.vectors, seed.id, 10, { excludeSameArtist: true });
      assert.ok(other.tracks.every((h) => h.artistId !== seed.artistId));
      const fast = await similar(db, runtime.vectors, seed.id, 5, { bpmMin: 150 });
      assert.equal(fast.tracks.length, 5, 'found beyond the first candidates');
      assert.ok(fast.tracks.every((h) => h.bpm !== null && h.bpm >= 150));
      const jazz = await similar(db, runtime.vectors, seed.id, 5, { genre: 'jazz' });
      assert.ok(jazz.tracks.length === 5 && jazz.tracks.every((h) => groupOf.get(h.trackId) === 'jazz'));
      const years = await similar(db, runtime.vectors, seed.id, 5, { yearMin: 1980, yearMax: 1984 });
      assert.ok(years.tracks.every((h) => h.year !== null && h.year >= 1980 && h.year <= 1984));
      await assert.rejects(similar(db, runtime.vectors, 999_999, 5), /does not exist/);
    });

    it('never suggests a missing track (its file is gone) in similar tracks or a radio', async () => {
      const db = runtime.database.db;
      const seed = tracks.find((t) => t.group === 'house')!;
      const hidden = (await similar(db, runtime.vectors, seed.id, 10)).tracks.map((t) => t.trackId).filter((id) => id !== seed.id).slice(0, 3);
      await db.updateTable('tracks').set({ missing_since: Date.now() }).where('id', 'in', hidden).execute();
      try {
        const after = await similar(db, runtime.vectors, seed.id, 10);
        assert.equal(after.tracks.length, 10);
        assert.ok(!after.tracks.some((t) => hidden.includes(t.trackId)), 'a missing track was suggested');
        const radio = await playlist(db, runtime.vectors, [seed.id], 20);
        assert.ok(!radio.tracks.some((t) => hidden.includes(t.trackId)), 'a missing track is in the radio');
      } finally {
        await db.updateTable('tracks').set({ missing_since: null }).where('id', 'in', hidden).execute();
      }
    });

    it('makes a radio of the seeds then tracks like them, with no repeats and no artist twice in a row', async () => {
      const seeds = tracks.filter((t) => t.group === 'house').slice(0, 2).map((t) => t.id);
      const list = await playlist(runtime.database.db, runtime.vectors, seeds, 20);
      assert.equal(list.tracks.length, 20);
      assert.deepEqual(list.tracks.slice(0, 2).map((t) => t.trackId), seeds);
      assert.equal(new Set(list.tracks.map((t) => t.trackId)).size, 20);
      for (let i = 1; i < list.tracks.length; i++) assert.notEqual(list.tracks[i]!.artistId, list.tracks[i - 1]!.artistId, `artist run at ${i}`);
      const house = list.tracks.filter((t) => groupOf.get(t.trackId) === 'house').length;
      assert.ok(house >= 16, `${house}/20 from the seeds' group`);
    });

    it('makes a path from one track to another that goes from one group to the other', async () => {
      const from = tracks.find((t) => t.group === 'house')!;
      const to = tracks.find((t) => t.group === 'ambient')!;
      const route = await pathBetween(runtime.database.db, runtime.vectors, from.id, to.id, 8);
      assert.equal(route.tracks.length, 8);
      assert.equal(route.tracks[0]!.trackId, from.id);
      assert.equal(route.tracks[7]!.trackId, to.id);
      assert.equal(new Set(route.tracks.map((t) => t.trackId)).size, 8);
      assert.equal(groupOf.get(route.tracks[1]!.trackId), 'house');
      assert.equal(groupOf.get(route.tracks[6]!.trackId), 'ambient');
    });

    it('retrains under load: queries never fail and each answer comes from one version, then the new one', async () => {
      const { db } = runtime.database;
      const before = (await activeModel(db))!.version;
      let stop = false;
      const seen = new Set<number>();
      let answers = 0;
      const load = (async () => {
        while (!stop) {
          const t = tracks[answers % tracks.length]!;
          const answer = await similar(db, runtime.vectors, t.id, 10);
          assert.equal(answer.tracks.length, 10);
          seen.add(answer.version);
          answers++;
          await new Promise((r) => setImmediate(r));
        }
      })();
      await runtime.broker.enqueue('vectorization.train_model', { reason: 'test retrain', force: true });
      await drain(runtime.broker);
      await new Promise((r) => setTimeout(r, 1_200)); // the index looks for a new version every second
      stop = true;
      await load;
      const now = (await activeModel(db))!.version;
      assert.ok(now > before);
      assert.ok(answers > 10, `${answers} queries ran`);
      assert.ok([...seen].every((v) => v === before || v === now), `versions seen: ${[...seen]}`);
      await runtime.vectors.current(true);
      await runtime.vectors.settled(); // the new version's index, built in the background
      assert.equal((await similar(db, runtime.vectors, tracks[0]!.id, 5)).version, now);
      // the retired version's vectors stay while query processes build their new index, then go
      const oldCount = async () => (await db.selectFrom('track_vectors').select('track_id').where('model_version', '=', before).execute()).length;
      assert.equal(await oldCount(), tracks.length);
      await runtime.broker.enqueue('deferred.process_vectors_batch', {});
      await drain(runtime.broker);
      assert.equal(await oldCount(), tracks.length, 'kept during the grace period');
      await db.updateTable('vector_models').set({ activated_at: Date.now() - 2 * 3_600_000 }).where('version', '=', now).execute();
      await runtime.broker.enqueue('deferred.process_vectors_batch', {});
      await drain(runtime.broker);
      assert.equal(await oldCount(), 0, 'deleted after it');
    });

    it('saves a large index beside the database, loads it at the next start, and rebuilds a damaged one', async () => {
      const { db } = runtime.database;
      const folder = path.join(dir, 'hnsw');
      const first = new LibraryIndex(db, folder, 10); // HNSW from 10 vectors on, so this library gets one
      const built = (await first.current())!;
      assert.equal(built.index.kind, 'hnsw');
      assert.equal(first.origin, 'database');
      const files = fs.readdirSync(folder).sort();
      assert.deepEqual(files, [`v${built.version}.json`, `v${built.version}.usearch`]);
      const again = new LibraryIndex(db, folder, 10);
      const loaded = (await again.current())!;
      assert.equal(again.origin, 'file');
      const probe = (await vectorsOf(db, built.version, [tracks[5]!.id])).get(tracks[5]!.id)!;
      assert.equal(loaded.index.search(probe, 1)[0]!.trackId, tracks[5]!.id);
      // a damaged file is never handed to usearch (which can crash on one): rebuilt from the database
      const file = path.join(folder, `v${built.version}.usearch`);
      const bytes = fs.readFileSync(file);
      bytes.fill(0x41, 0, 64);
      fs.writeFileSync(file, bytes);
      const third = new LibraryIndex(db, folder, 10);
      const rebuilt = (await third.current())!;
      assert.equal(third.origin, 'database');
      assert.equal(rebuilt.index.search(probe, 1)[0]!.trackId, tracks[5]!.id);
    });

    it('monitors tag changes: nothing to do, then a retrain when many tracks get a genre the model never saw', async () => {
      const { db } = runtime.database;
      const quiet = await runtime.broker.enqueue('vectorization.monitor_tag_changes', {});
      await drain(runtime.broker);
      assert.equal(((await runtime.broker.getJob(quiet.id))!.result as { decision: string }).decision, 'none');
      const genre = await db.insertInto('genres').values({ name: 'Vaporwave', name_key: 'vaporwave' }).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('track_genres').values(tracks.slice(0, 40).map((t) => ({ track_id: t.id, genre_id: genre.id }))).execute();
      const before = (await activeModel(db))!.version;
      const moved = await runtime.broker.enqueue('vectorization.monitor_tag_changes', {});
      await drain(runtime.broker);
      const report = (await runtime.broker.getJob(moved.id))!.result as { decision: string; why: string };
      assert.equal(report.decision, 'retrain', report.why);
      assert.ok((await activeModel(db))!.version > before, 'the retrain ran and took over');
      const health = await runtime.broker.enqueue('vectorization.check_model_health', {});
      await drain(runtime.broker);
      const h = (await runtime.broker.getJob(health.id))!.result as { coverage: number; warnings: string[] };
      assert.equal(h.coverage, 1);
      assert.deepEqual(h.warnings, []);
    });
  });

  describe(`vector model refit as the library grows — ${setup.name}`, () => {
    let dir: string;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vectors-grow-'));
      const made = await setup.config(dir);
      cleanup = made.cleanup;
      runtime = await openRuntime(made.config, testLogger);
    });
    after(async () => {
      await runtime.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** one tick of the periodic vectors task, run to the end with what it queued */
    async function tick(): Promise<{ queued: number; refit?: string }> {
      const job = await runtime.broker.enqueue('deferred.process_vectors_batch', { limit: 500 });
      await drain(runtime.broker);
      return (await runtime.broker.getJob(job.id))!.result as { queued: number; refit?: string };
    }

    it('refits the first model, fitted on the first tracks ready, once the library has doubled, and re-vectorises every track', async () => {
      const { db } = runtime.database;
      // the first tracks of a scan are ready: the first model is fitted on them
      await insertSyntheticLibrary(db, 10);
      await tick();
      const first = (await activeModel(db))!;
      assert.equal(first.trackCount, 40);
      // half as many again: the new tracks get vectors of the same model, no refit yet
      await insertSyntheticLibrary(db, 5, 7, 10);
      const half = await tick();
      assert.equal(half.refit, undefined);
      assert.equal(half.queued, 20);
      assert.equal((await activeModel(db))!.version, first.version);
      // doubled: refitted on the whole library, which then has vectors of the new model only
      await insertSyntheticLibrary(db, 5, 7, 15);
      const doubled = await tick();
      assert.match(doubled.refit ?? '', /grew from 40 to 80 tracks ready/);
      const second = (await activeModel(db))!;
      assert.ok(second.version > first.version, 'the refitted model took over');
      assert.equal(second.trackCount, 80);
      const ids = (await db.selectFrom('tracks').select('id').execute()).map((t) => t.id);
      assert.equal((await vectorsOf(db, second.version, ids)).size, 80);
      // and no refit again until the library doubles again
      assert.equal((await tick()).refit, undefined);
      assert.equal((await activeModel(db))!.version, second.version);
    });
  });
}
