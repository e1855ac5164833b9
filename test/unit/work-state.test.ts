import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { failWork, markWork, MAX_ATTEMPTS, takeDueWork } from '../../src/services/work_state.js';
import type { TaskContext } from '../../src/tasks/define.js';
import { FAILED_QUIET_MS, retryFailed } from '../../src/workers/deferred/retry_failed.js';
import { testLogger, testServices } from '../helpers/brokers.js';

async function database() {
  const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-work-')) });
  await migrateToLatest(handle.db, handle.dialect);
  return handle;
}

describe('work state', () => {
  it('backs off failed attempts, honours a provider\'s later time, and gives up with the reason', async () => {
    const { db, close } = await database();
    assert.equal(await failWork(db, 'album', 1, 'cover_outside', 'HTTP 503'), 'retry');
    let row = await db.selectFrom('work_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.attempts, 1);
    assert.ok(row.next_attempt_at! >= Date.now() + 4 * 60_000, 'first retry after ~5 min');
    const retryAt = Date.now() + 6 * 3_600_000;
    await failWork(db, 'album', 1, 'cover_outside', 'Retry-After', retryAt);
    row = await db.selectFrom('work_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.next_attempt_at, retryAt);
    for (let i = 2; i < MAX_ATTEMPTS - 1; i++) await failWork(db, 'album', 1, 'cover_outside', 'HTTP 503');
    assert.equal(await failWork(db, 'album', 1, 'cover_outside', 'HTTP 503'), 'gave-up');
    row = await db.selectFrom('work_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.status, 'failed');
    assert.match(row.last_error ?? '', /gave up after 8 attempts: HTTP 503/);
    await close();
  });

  it('hands out due work once per lease', async () => {
    const { db, close } = await database();
    await markWork(db, 'artist', 7, 'image_outside', 'pending');
    await markWork(db, 'artist', 8, 'image_outside', 'pending', { nextAttemptAt: Date.now() + 60_000 });
    assert.deepEqual(await takeDueWork(db, 'image_outside', 10, 60_000), [{ entity: 'artist', id: 7 }]);
    assert.deepEqual(await takeDueWork(db, 'image_outside', 10, 60_000), []);
    await close();
  });

  it('retries only work that has stayed failed for a day, a few at a time', async () => {
    const { db, close } = await database();
    const old = Date.now() - FAILED_QUIET_MS - 60_000;
    for (const id of [1, 2, 3]) await markWork(db, 'album', id, 'cover_outside', 'failed', { error: 'x' });
    await db.updateTable('work_state').set({ updated_at: old }).where('entity_id', 'in', [1, 2]).execute();
    const ctx = { db, services: testServices(os.tmpdir()), log: testLogger } as unknown as TaskContext;
    assert.deepEqual(await retryFailed({ limit: 1 }, ctx), { retried: 1 });
    assert.deepEqual(await retryFailed({ limit: 5 }, ctx), { retried: 1 });
    const rows = await db.selectFrom('work_state').select(['entity_id', 'status', 'attempts']).orderBy('entity_id').execute();
    assert.deepEqual(rows.map((r) => r.status), ['pending', 'pending', 'failed']);
    await close();
  });
});
