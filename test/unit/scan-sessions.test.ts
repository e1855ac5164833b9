import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { ensureRoot, finalizeIfDone, getScan, requestCancel, STALE_SCAN_MS, startScan } from '../../src/workers/scan/sessions.js';

async function library() {
  const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sessions-')) });
  await migrateToLatest(handle.db, handle.dialect);
  const root = await ensureRoot(handle.db, '/music');
  return { handle, db: handle.db, root };
}

describe('scan sessions', () => {
  it('runs one scan per root: a second request gets the running one', async () => {
    const { handle, db, root } = await library();
    const first = await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'one', full: false });
    const second = await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'two', full: false });
    assert.equal(first.state, 'started');
    assert.equal(second.state, 'already-running');
    assert.equal(second.scan.id, 'one');
    assert.equal((await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'one', full: false })).state, 'resumed');
    await handle.close();
  });

  it('fails a scan left running by a dead worker instead of blocking the root forever', async () => {
    const { handle, db, root } = await library();
    await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'old', full: false });
    await db.updateTable('scans').set({ updated_at: Date.now() - STALE_SCAN_MS - 1_000 }).where('id', '=', 'old').execute();
    const next = await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'new', full: false });
    assert.equal(next.state, 'started');
    const old = await getScan(db, 'old');
    assert.equal(old?.status, 'failed');
    assert.match(old?.last_error ?? '', /interrupted/);
    await handle.close();
  });

  it('completes only when the walk is done and every queued batch is written', async () => {
    const { handle, db, root } = await library();
    await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 's', full: false });
    await db.updateTable('scans').set({ batches_total: 2, batches_done: 1 }).where('id', '=', 's').execute();
    assert.equal(await finalizeIfDone(db, 's'), false, 'walk not done');
    await db.updateTable('scans').set({ walk_done: 1 }).where('id', '=', 's').execute();
    assert.equal(await finalizeIfDone(db, 's'), false, 'a batch is still in flight');
    await db.updateTable('scans').set({ batches_done: 2 }).where('id', '=', 's').execute();
    assert.equal(await finalizeIfDone(db, 's'), true);
    assert.equal(await finalizeIfDone(db, 's'), false, 'completes once');
    assert.equal((await getScan(db, 's'))?.status, 'completed');
    await handle.close();
  });

  it('cancels a running scan and frees its root', async () => {
    const { handle, db, root } = await library();
    await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'c', full: false });
    assert.equal(await requestCancel(db, 'c'), true);
    assert.equal((await getScan(db, 'c'))?.status, 'cancelled');
    assert.equal(await requestCancel(db, 'c'), false);
    assert.equal((await startScan(db, { rootId: root.id, rootPath: root.path, scanId: 'd', full: false })).state, 'started');
    await handle.close();
  });
});
