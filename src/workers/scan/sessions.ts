// Scan sessions: one running scan per root, counts per stage, completion when the walk is done
// and every batch it queued has been written, cancel, and no scan left `running` forever.
import { sql, type Transaction } from 'kysely';
import type { Database, Db, ScanTable } from '../../db/types.js';

/** a running scan with no progress for this long was interrupted (its worker died): it is failed */
export const STALE_SCAN_MS = 15 * 60_000;

export type ScanCounter = 'discovered' | 'unchanged' | 'queued' | 'extracted' | 'inserted' | 'updated' | 'moved' | 'removed' | 'failed' | 'batches_total' | 'batches_done';

export async function ensureRoot(db: Db, rootPath: string): Promise<{ id: number; path: string }> {
  await db.insertInto('library_roots').values({ path: rootPath, added_at: Date.now() }).onConflict((oc) => oc.column('path').doNothing()).execute();
  return db.selectFrom('library_roots').select(['id', 'path']).where('path', '=', rootPath).executeTakeFirstOrThrow();
}

export async function getScan(db: Db, scanId: string): Promise<ScanTable | undefined> {
  return db.selectFrom('scans').selectAll().where('id', '=', scanId).executeTakeFirst();
}

export async function runningScan(db: Db, rootId: number): Promise<ScanTable | undefined> {
  return db.selectFrom('scans').selectAll().where('root_id', '=', rootId).where('status', '=', 'running').orderBy('started_at', 'desc').executeTakeFirst();
}

export type StartResult = { scan: ScanTable; state: 'started' | 'resumed' | 'already-running' | 'finished' };

/**
 * Starts scan `scanId` on a root, or resumes it when its job runs again after a crash. Another
 * running scan of the same root is returned instead, unless it went stale.
 */
export async function startScan(db: Db, input: { rootId: number; rootPath: string; scanId: string; full: boolean }): Promise<StartResult> {
  return db.transaction().execute(async (trx) => {
    const now = Date.now();
    const own = await trx.selectFrom('scans').selectAll().where('id', '=', input.scanId).executeTakeFirst();
    if (own) return { scan: own, state: own.status === 'running' ? 'resumed' : 'finished' };
    const other = await trx.selectFrom('scans').selectAll().where('root_id', '=', input.rootId).where('status', '=', 'running').executeTakeFirst();
    if (other && other.updated_at > now - STALE_SCAN_MS) return { scan: other, state: 'already-running' };
    if (other) {
      await trx
        .updateTable('scans')
        .set({ status: 'failed', finished_at: now, updated_at: now, last_error: `interrupted: no progress for ${Math.round((now - other.updated_at) / 60_000)} min` })
        .where('id', '=', other.id)
        .execute();
    }
    const scan: ScanTable = {
      id: input.scanId,
      root_id: input.rootId,
      root_path: input.rootPath,
      status: 'running',
      full: input.full ? 1 : 0,
      walk_done: 0,
      cancel_requested: 0,
      discovered: 0,
      unchanged: 0,
      queued: 0,
      extracted: 0,
      inserted: 0,
      updated: 0,
      moved: 0,
      removed: 0,
      failed: 0,
      batches_total: 0,
      batches_done: 0,
      started_at: now,
      updated_at: now,
      finished_at: null,
      last_error: null,
    };
    await trx.insertInto('scans').values(scan).execute();
    return { scan, state: 'started' };
  });
}

/** Adds to a scan's counters (and marks it alive). */
export async function addCounts(db: Db | Transaction<Database>, scanId: string, counts: Partial<Record<ScanCounter, number>>): Promise<void> {
  const set: Record<string, unknown> = { updated_at: Date.now() };
  for (const [column, n] of Object.entries(counts)) {
    if (n) set[column] = sql`${sql.ref(column)} + ${n}`;
  }
  await db.updateTable('scans').set(set).where('id', '=', scanId).execute();
}

export async function isCancelled(db: Db, scanId: string | undefined): Promise<boolean> {
  if (!scanId) return false;
  const row = await db.selectFrom('scans').select(['status', 'cancel_requested']).where('id', '=', scanId).executeTakeFirst();
  return row !== undefined && (row.status === 'cancelled' || row.cancel_requested === 1);
}

export async function requestCancel(db: Db, scanId: string): Promise<boolean> {
  const now = Date.now();
  const result = await db
    .updateTable('scans')
    .set({ cancel_requested: 1, status: 'cancelled', finished_at: now, updated_at: now })
    .where('id', '=', scanId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function failScan(db: Db, scanId: string, error: string): Promise<void> {
  const now = Date.now();
  await db.updateTable('scans').set({ status: 'failed', last_error: error, finished_at: now, updated_at: now }).where('id', '=', scanId).where('status', '=', 'running').execute();
}

/**
 * Completes a scan whose walk is done and whose batches are all written: files that moved keep
 * their track, files that are gone lose theirs, albums and artists left empty go, and the folder
 * fingerprints seen by this scan become the ones later scans compare against. Idempotent.
 */
export async function finalizeIfDone(db: Db, scanId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const now = Date.now();
    const done = await trx
      .updateTable('scans')
      .set({ status: 'completed', finished_at: now, updated_at: now })
      .where('id', '=', scanId)
      .where('status', '=', 'running')
      .where('walk_done', '=', 1)
      .where((eb) => eb('batches_done', '>=', eb.ref('batches_total')))
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) return false;

    const moved = await relinkMovedTracks(trx, scanId);
    const removed = await trx.deleteFrom('tracks').where('missing_scan_id', '=', scanId).executeTakeFirst();
    await removeOrphans(trx);
    await trx
      .updateTable('folders')
      .set((eb) => ({ fingerprint: eb.ref('pending_fingerprint'), pending_fingerprint: null, pending_scan_id: null }))
      .where('pending_scan_id', '=', scanId)
      .execute();
    await trx.updateTable('scans').set({ moved, removed: Number(removed.numDeletedRows) }).where('id', '=', scanId).execute();
    return true;
  });
}

/**
 * A track whose file vanished and a track first seen in this scan with the same identity are one
 * file that moved: the old track (its id, links, covers, analysis) takes the new path.
 */
async function relinkMovedTracks(trx: Transaction<Database>, scanId: string): Promise<number> {
  const pairs = await trx
    .selectFrom('tracks as gone')
    .innerJoin('tracks as found', (join) => join.onRef('found.identity', '=', 'gone.identity'))
    .innerJoin('scans', 'scans.id', 'found.last_scan_id')
    .select(['gone.id as goneId', 'found.id as foundId', 'found.path', 'found.folder', 'found.root_id', 'found.file_size', 'found.mtime_ms'])
    .where('gone.missing_scan_id', '=', scanId)
    .where('found.last_scan_id', '=', scanId)
    .where('found.missing_scan_id', 'is', null)
    .whereRef('found.created_at', '>=', 'scans.started_at')
    .execute();
  const used = new Set<number>();
  let moved = 0;
  for (const pair of pairs) {
    if (used.has(pair.goneId) || used.has(pair.foundId)) continue;
    used.add(pair.goneId);
    used.add(pair.foundId);
    await trx.deleteFrom('work_state').where('entity_type', '=', 'track').where('entity_id', '=', pair.foundId).execute();
    await trx.deleteFrom('tracks').where('id', '=', pair.foundId).execute();
    await trx
      .updateTable('tracks')
      .set({ path: pair.path, folder: pair.folder, root_id: pair.root_id, file_size: pair.file_size, mtime_ms: pair.mtime_ms, missing_scan_id: null, last_scan_id: scanId, updated_at: Date.now() })
      .where('id', '=', pair.goneId)
      .execute();
    moved++;
  }
  return moved;
}

export async function removeOrphans(trx: Transaction<Database>): Promise<void> {
  await trx.deleteFrom('albums').where((eb) => eb.not(eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.album_id', '=', 'albums.id')))).execute();
  await trx
    .deleteFrom('artists')
    .where((eb) =>
      eb.and([
        eb.not(eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.artist_id', '=', 'artists.id'))),
        eb.not(eb.exists(eb.selectFrom('track_artists').select('track_artists.track_id').whereRef('track_artists.artist_id', '=', 'artists.id'))),
        eb.not(eb.exists(eb.selectFrom('albums').select('albums.id').whereRef('albums.album_artist_id', '=', 'artists.id'))),
      ]),
    )
    .execute();
  await trx
    .deleteFrom('work_state')
    .where('entity_type', '=', 'track')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.id', '=', 'work_state.entity_id'))))
    .execute();
}
