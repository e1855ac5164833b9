import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, runtimeSetups } from '../helpers/runtimes.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

const DAY = 86_400_000;

for (const setup of runtimeSetups) {
  describe(`maintenance tasks — ${setup.name}`, () => {
    let dir: string;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-maint-'));
      const made = await setup.config(dir);
      cleanup = made.cleanup;
      runtime = await openRuntime(made.config, testLogger);
    });
    after(async () => {
      await runtime.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const run = async (task: string, payload: unknown) => {
      const ref = await runtime.broker.enqueue(task, payload);
      await drain(runtime.broker);
      const job = await runtime.broker.getJob(ref.id);
      assert.equal(job?.state, 'completed', job?.error ?? '');
      return job!.result as Record<string, unknown>;
    };

    it('cleanup_expired removes orphan images and the work state of gone entities, marks long-flagged tracks missing, and keeps the rest', async () => {
      const { db } = runtime.database;
      const tracks = await insertSyntheticLibrary(db, 3);
      const old = Date.now() - 30 * DAY;
      const store = runtime.services.images;
      for (const hash of ['a'.repeat(64), 'b'.repeat(64)]) {
        await db.insertInto('images').values({ hash, mime: 'image/png', width: 1, height: 1, bytes: 1, created_at: old }).execute();
        // as an earlier version stored pictures: a folder each
        fs.mkdirSync(path.join(store.dir, hash.slice(0, 2), hash), { recursive: true });
      }
      // one image is still somebody's cover
      await db.insertInto('covers').values({ entity_type: 'track', entity_id: tracks[0]!.id, source: 'embedded', hash: 'b'.repeat(64), mime: 'image/png', width: 1, height: 1, created_at: old }).execute();
      // a cancelled scan flagged two tracks: one file is really gone (its synthetic path does not
      // exist), the other is back; a running scan's flag is left alone
      const root = await db.selectFrom('library_roots').select('id').executeTakeFirstOrThrow();
      const scanRow = (id: string, status: 'cancelled' | 'running') => ({ id, root_id: root.id, root_path: '/synthetic', status, full: 0, walk_done: 1, cancel_requested: 0, discovered: 0, unchanged: 0, queued: 0, extracted: 0, inserted: 0, updated: 0, moved: 0, removed: 0, failed: 0, batches_total: 0, batches_done: 0, started_at: old, updated_at: old, finished_at: null, last_error: null });
      await db.insertInto('scans').values([scanRow('gone', 'cancelled'), scanRow('busy', 'running')]).execute();
      const present = path.join(dir, 'present.flac');
      fs.writeFileSync(present, 'x');
      await db.updateTable('tracks').set({ missing_scan_id: 'gone' }).where('id', '=', tracks[1]!.id).execute();
      await db.updateTable('tracks').set({ missing_scan_id: 'gone', path: present }).where('id', '=', tracks[2]!.id).execute();
      await db.updateTable('tracks').set({ missing_scan_id: 'busy' }).where('id', '=', tracks[3]!.id).execute();
      await db.insertInto('work_state').values({ entity_type: 'album', entity_id: 999_999, stage: 'cover', status: 'failed', attempts: 8, next_attempt_at: null, last_error: 'x', updated_at: old }).execute();

      const result = await run('deferred.cleanup_expired', { olderThanDays: 7 });
      assert.deepEqual([result.images, result.tracks, result.workState], [1, 1, 1]);
      assert.equal(fs.existsSync(path.join(store.dir, 'aa', 'a'.repeat(64))), false);
      assert.equal(fs.existsSync(path.join(store.dir, 'bb', 'b'.repeat(64))), true);
      // the file is gone: the track is missing (kept, hidden), not deleted
      const gone = await db.selectFrom('tracks').select(['missing_since', 'missing_scan_id']).where('id', '=', tracks[1]!.id).executeTakeFirstOrThrow();
      assert.ok(gone.missing_since !== null && gone.missing_scan_id === null);
      assert.equal((await db.selectFrom('tracks').select('id').execute()).length, tracks.length);
      const back = await db.selectFrom('tracks').select('missing_scan_id').where('id', 'in', [tracks[2]!.id, tracks[3]!.id]).orderBy('id').execute();
      assert.deepEqual(back.map((t) => t.missing_scan_id), [null, 'busy']);
      // nothing more to do the second time
      const again = await run('deferred.cleanup_expired', { olderThanDays: 7 });
      assert.deepEqual([again.images, again.tracks, again.workState], [0, 0, 0]);
    });

    it('health_report gives queue depths, due work and the vector model, with warnings', async () => {
      const report = await run('maintenance.health_report', {});
      const queues = report.queues as Record<string, { completed: number }>;
      assert.ok(queues.maintenance!.completed >= 2, 'the cleanup jobs are counted');
      assert.ok(Array.isArray(report.warnings));
      assert.ok((report.warnings as string[]).some((w) => /no model/.test(w)), 'tracks are ready but no model was trained');
    });
  });
}
