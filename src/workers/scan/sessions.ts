// Scan sessions: one running scan per root, counts per stage, completion when the walk is done
// and every batch it queued has been written, cancel, and no scan left `running` forever.
import { randomUUID } from 'node:crypto';
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
 * running scan of the same root is returned instead, unless it went stale. Race-free: one running
 * scan per root is a unique index (scans_one_running), so of two concurrent starts one inserts and
 * the other gets the winner back.
 */
export async function startScan(db: Db, input: { rootId: number; rootPath: string; scanId: string; full: boolean }): Promise<StartResult> {
  for (;;) {
    const result = await db.transaction().execute(async (trx): Promise<StartResult | null> => {
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
      const scan = newScan(input, now);
      const inserted = await trx
        .insertInto('scans')
        .values(scan)
        .onConflict((oc) => oc.column('root_id').where(sql<boolean>`status = 'running'`).doNothing()) // the index's own predicate, literally
        .executeTakeFirst();
      // another start won the race (PostgreSQL): its scan is the one to follow
      return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1 ? { scan, state: 'started' } : null;
    });
    if (result) return result;
  }
}

function newScan(input: { rootId: number; rootPath: string; scanId: string; full: boolean }, now: number): ScanTable {
  return {
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
}

/**
 * What the CLI and the API call to scan a root: starts a scan (its row exists before its id is
 * returned, so `GET /scans/:id` answers at once) and queues its discovery, or returns the scan
 * already running on that root.
 */
export async function beginScan(
  db: Db,
  rootPath: string,
  full: boolean,
  enqueue: (payload: { root: string; scanId: string; full?: true }) => Promise<unknown>,
): Promise<{ scanId: string; started: boolean }> {
  const root = await ensureRoot(db, rootPath);
  const start = await startScan(db, { rootId: root.id, rootPath, scanId: randomUUID(), full });
  const scanId = start.scan.id;
  if (start.state !== 'started') return { scanId, started: false };
  try {
    await enqueue({ root: rootPath, scanId, ...(full ? { full: true as const } : {}) });
  } catch (err) {
    await failScan(db, scanId, `could not be queued: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
  return { scanId, started: true };
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
 * their track, files that are gone make their track *missing* (kept, hidden; purged after the grace
 * period), and the folder fingerprints seen by this scan become the ones later scans compare
 * against. Idempotent.
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
    const missing = await trx
      .updateTable('tracks')
      .set((eb) => ({ missing_since: eb.fn.coalesce('missing_since', eb.val(now)), missing_scan_id: null }))
      .where('missing_scan_id', '=', scanId)
      .executeTakeFirst();
    await removeOrphans(trx);
    await trx
      .updateTable('folders')
      .set((eb) => ({ fingerprint: eb.ref('pending_fingerprint'), pending_fingerprint: null, pending_scan_id: null }))
      .where('pending_scan_id', '=', scanId)
      .execute();
    await trx.updateTable('scans').set({ moved, removed: Number(missing.numUpdatedRows) }).where('id', '=', scanId).execute();
    return true;
  });
}

/**
 * A track whose file vanished (in this scan or earlier: a missing track) and a track first seen in
 * this scan with the same identity are one file that moved: the old track (its id, covers, analysis,
 * vectors) takes the new path and everything just read from the file, so a file retagged and moved
 * carries its new tags, not the old ones.
 */
async function relinkMovedTracks(trx: Transaction<Database>, scanId: string): Promise<number> {
  const pairs = await trx
    .selectFrom('tracks as gone')
    .innerJoin('tracks as found', (join) => join.onRef('found.identity', '=', 'gone.identity'))
    .innerJoin('scans', 'scans.id', 'found.last_scan_id')
    .select(['gone.id as goneId', 'found.id as foundId'])
    .where((eb) => eb.or([eb('gone.missing_scan_id', '=', scanId), eb('gone.missing_since', 'is not', null)]))
    .whereRef('gone.id', '!=', 'found.id')
    .where('found.last_scan_id', '=', scanId)
    .where('found.missing_scan_id', 'is', null)
    .where('found.missing_since', 'is', null)
    .whereRef('found.created_at', '>=', 'scans.started_at')
    .orderBy('gone.missing_since', 'desc')
    .orderBy('gone.id')
    .execute();
  const used = new Set<number>();
  let moved = 0;
  for (const pair of pairs) {
    if (used.has(pair.goneId) || used.has(pair.foundId)) continue;
    used.add(pair.goneId);
    used.add(pair.foundId);
    const { id: _id, created_at: _created, ...fresh } = await trx.selectFrom('tracks').selectAll().where('id', '=', pair.foundId).executeTakeFirstOrThrow();
    // the links just written for the file replace the old ones
    await trx.deleteFrom('track_artists').where('track_id', '=', pair.goneId).execute();
    await trx.deleteFrom('track_genres').where('track_id', '=', pair.goneId).execute();
    await trx.updateTable('track_artists').set({ track_id: pair.goneId }).where('track_id', '=', pair.foundId).execute();
    await trx.updateTable('track_genres').set({ track_id: pair.goneId }).where('track_id', '=', pair.foundId).execute();
    await trx.deleteFrom('work_state').where('entity_type', '=', 'track').where('entity_id', '=', pair.foundId).execute();
    await trx.deleteFrom('covers').where('entity_type', '=', 'track').where('entity_id', '=', pair.foundId).execute();
    await trx.deleteFrom('tracks').where('id', '=', pair.foundId).execute();
    await trx
      .updateTable('tracks')
      .set({ ...fresh, missing_scan_id: null, missing_since: null, last_scan_id: scanId, updated_at: Date.now() })
      .where('id', '=', pair.goneId)
      .execute();
    moved++;
  }
  return moved;
}

/** Albums and artists left without tracks, and the work and cover rows of what no longer exists. */
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
  // cover rows of deleted tracks, albums and artists: without this their images were never pruned
  for (const [entity, table] of [['track', 'tracks'], ['album', 'albums'], ['artist', 'artists']] as const) {
    await trx
      .deleteFrom('covers')
      .where('entity_type', '=', entity)
      .where((eb) => eb.not(eb.exists(eb.selectFrom(table).select(`${table}.id`).whereRef(`${table}.id`, '=', 'covers.entity_id'))))
      .execute();
  }
}
