// db/reused_statements.ts: a statement compiled once per shape writes and reads each call's own values,
// on SQLite and on PostgreSQL, with the columns and defaults Kysely's own insert gives.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { reusedInsert, reusedListQuery, reusedQuery } from '../../src/db/reused_statements.js';
import { databaseUrl } from '../helpers/brokers.js';
import { postgresTestSchema } from '../helpers/runtimes.js';

const upsertWork = reusedInsert((db, rows, { now }: { now: number }) =>
  db
    .insertInto('work_state')
    .values(rows as never)
    .onConflict((oc) => oc.columns(['entity_type', 'entity_id', 'stage']).doUpdateSet({ status: 'pending', updated_at: now }))
    .returning(['entity_id', 'updated_at']),
);

const work = (id: number, extra: Record<string, unknown> = {}) => ({ entity_type: 'track', entity_id: id, stage: 'analysis', status: 'done', next_attempt_at: 5, updated_at: 1, ...extra });

async function withDatabase(kind: 'sqlite' | 'postgres', run: (handle: DatabaseHandle) => Promise<void>): Promise<void> {
  const place = kind === 'postgres' ? await postgresTestSchema() : undefined;
  try {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-reused-')), databaseUrl: place?.databaseUrl });
    await migrateToLatest(handle.db, handle.dialect);
    try {
      await run(handle);
    } finally {
      await handle.close();
    }
  } finally {
    await place?.cleanup();
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`reused multi-row insert (${kind})`, { skip: kind === 'postgres' && !databaseUrl() ? 'DATABASE_URL not set' : false }, () => {
    it('writes each call its own rows and named values, the statement being built once per shape', async () => {
      await withDatabase(kind, async ({ db }) => {
        const first = await upsertWork(db, [work(1, { last_error: 'e1' }), work(2)], { now: 1000 });
        assert.deepEqual(first.map((r) => [r.entity_id, Number(r.updated_at)]), [[1, 1], [2, 1]]);
        // same shape (two rows, same columns): new values, new clock, one row already there
        const second = await upsertWork(db, [work(2, { last_error: 'e2' }), work(3, { updated_at: 7 })], { now: 2000 });
        assert.deepEqual(second.map((r) => [r.entity_id, Number(r.updated_at)]), [[2, 2000], [3, 7]]);
        const rows = await db.selectFrom('work_state').select(['entity_id', 'status', 'attempts', 'last_error', 'updated_at']).orderBy('entity_id').execute();
        assert.deepEqual(
          rows.map((r) => [r.entity_id, r.status, Number(r.attempts), r.last_error, Number(r.updated_at)]),
          [
            [1, 'done', 0, 'e1', 1], // `attempts` given by no row: the column's default
            [2, 'pending', 0, null, 2000], // the conflict's update, with the second call's clock
            [3, 'done', 0, null, 7], // `last_error` undefined in a row of a call that has it: NULL
          ],
        );
        // another shape (three rows) in between, then the first shape again with other values
        await upsertWork(db, [work(4), work(5), work(6)], { now: 3000 });
        await upsertWork(db, [work(7, { last_error: 'e7' }), work(1)], { now: 4000 });
        const after = await db.selectFrom('work_state').select(['entity_id', 'status', 'last_error', 'updated_at']).where('entity_id', 'in', [1, 4, 7]).orderBy('entity_id').execute();
        assert.deepEqual(
          after.map((r) => [r.entity_id, r.status, r.last_error, Number(r.updated_at)]),
          [
            [1, 'pending', 'e1', 4000],
            [4, 'done', null, 1],
            [7, 'done', 'e7', 1],
          ],
        );
      });
    });

    it('writes any number of rows, `chunk` to a statement and the rest in smaller ones, returning them in order', async () => {
      const upsertFew = reusedInsert((db, rows) => db.insertInto('work_state').values(rows as never).onConflict((oc) => oc.doNothing()).returning('entity_id'), 4);
      await withDatabase(kind, async ({ db }) => {
        for (const count of [11, 7, 1, 0]) {
          const base = count * 100;
          const ids = Array.from({ length: count }, (_, i) => base + i + 1);
          const returned = await upsertFew(db, ids.map((id) => work(id)), {});
          assert.deepEqual(returned.map((r) => r.entity_id), ids, `${count} rows`);
        }
        assert.equal((await db.selectFrom('work_state').select('entity_id').execute()).length, 19);
      });
    });

    it('runs a statement of named values again with each call\'s values', async () => {
      const stageOf = reusedQuery((db, { id, stage }: { id: number; stage: string }) => db.selectFrom('work_state').select(['entity_id', 'status']).where('entity_id', '=', id).where('stage', '=', stage));
      await withDatabase(kind, async ({ db }) => {
        await upsertWork(db, [work(1), work(2, { status: 'failed' })], { now: 1 });
        assert.deepEqual(await stageOf(db, { id: 1, stage: 'analysis' }), [{ entity_id: 1, status: 'done' }]);
        assert.deepEqual(await stageOf(db, { id: 2, stage: 'analysis' }), [{ entity_id: 2, status: 'failed' }]);
        assert.deepEqual(await stageOf(db, { id: 2, stage: 'covers' }), []);
      });
    });

    it('runs a statement over a list of any length, chunk by chunk, with each call\'s list', async () => {
      const statusOf = reusedListQuery((db, ids: number[], { stage }: { stage: string }) => db.selectFrom('work_state').select(['entity_id', 'status']).where('stage', '=', stage).where('entity_id', 'in', ids).orderBy('entity_id'), 4);
      const forget = reusedListQuery((db, ids: number[]) => db.deleteFrom('work_state').where('entity_id', 'in', ids), 4);
      await withDatabase(kind, async ({ db }) => {
        await upsertWork(db, Array.from({ length: 12 }, (_, i) => work(i + 1, { status: i % 2 ? 'failed' : 'done' })), { now: 1 });
        const seven = await statusOf(db, [1, 2, 3, 4, 5, 6, 7], { stage: 'analysis' });
        assert.deepEqual(seven.map((r) => `${r.entity_id}:${r.status}`), ['1:done', '2:failed', '3:done', '4:failed', '5:done', '6:failed', '7:done']);
        assert.deepEqual((await statusOf(db, [12, 9, 40], { stage: 'analysis' })).map((r) => r.entity_id), [9, 12]);
        assert.deepEqual(await statusOf(db, [1, 2, 3], { stage: 'covers' }), []);
        await forget(db, [2, 3, 4, 5, 6, 7, 8, 9, 10], {});
        assert.deepEqual((await db.selectFrom('work_state').select('entity_id').orderBy('entity_id').execute()).map((r) => r.entity_id), [1, 11, 12]);
      });
    });

    it('refuses a statement that does not bind every row value', async () => {
      const dropsRows = reusedInsert((db) => db.insertInto('work_state').values(work(99) as never));
      await withDatabase(kind, async ({ db }) => {
        await assert.rejects(dropsRows(db, [work(1), work(2)], {}), /binds 0 row values, not 12/);
        assert.equal((await db.selectFrom('work_state').select('entity_id').execute()).length, 0);
      });
    });
  });
}
