// deferred.cleanup_expired (daily): finished job records past the retention policy, stored images
// no cover points at any more (rows and files), tracks a failed or cancelled scan (older than
// `olderThanDays`) left flagged: missing when their file is really gone (kept, purged after the grace
// period by maintenance.purge_missing_tracks), unflagged when it is back; finished scan sessions older than that (the last 20 per root
// stay), and work-state rows of entities that are gone.
import fs from 'node:fs';
import { sql } from 'kysely';
import type { TaskContext } from '../../tasks/define.js';

const KEEP_SCANS_PER_ROOT = 20;

export async function cleanupExpired(payload: { olderThanDays: number }, ctx: TaskContext) {
  const { db, services } = ctx;
  const before = Date.now() - payload.olderThanDays * 86_400_000;
  const jobs = await ctx.jobs.prune();

  const orphans = await db.selectFrom('images').select('hash').where((eb) => eb.not(eb.exists(eb.selectFrom('covers').select('covers.hash').whereRef('covers.hash', '=', 'images.hash')))).where('created_at', '<', before).execute();
  for (const { hash } of orphans) {
    ctx.signal.throwIfAborted();
    // deleted only if still unreferenced (a cover may have been linked to it meanwhile)
    const res = await db.deleteFrom('images').where('hash', '=', hash).where((eb) => eb.not(eb.exists(eb.selectFrom('covers').select('covers.hash').whereRef('covers.hash', '=', 'images.hash')))).executeTakeFirst();
    if (Number(res.numDeletedRows) === 1) services.images.remove(hash);
  }

  // tracks flagged by a scan that never finished (failed or cancelled, long ago): missing only if
  // their file is really gone (never deleted here); a file that is back just loses the flag
  const flagged = await db
    .selectFrom('tracks')
    .innerJoin('scans', 'scans.id', 'tracks.missing_scan_id')
    .select(['tracks.id', 'tracks.path'])
    .where('scans.status', 'in', ['failed', 'cancelled'])
    .where('scans.started_at', '<', before)
    .limit(10_000)
    .execute();
  let removedTracks = 0;
  for (const track of flagged) {
    ctx.signal.throwIfAborted();
    if (fs.existsSync(track.path)) await db.updateTable('tracks').set({ missing_scan_id: null }).where('id', '=', track.id).execute();
    else removedTracks += Number((await db.updateTable('tracks').set({ missing_scan_id: null, missing_since: Date.now() }).where('id', '=', track.id).executeTakeFirst()).numUpdatedRows);
  }

  const scans = await db
    .deleteFrom('scans')
    .where('status', '!=', 'running')
    .where('started_at', '<', before)
    .where('id', 'not in', (eb) =>
      eb
        .selectFrom(
          eb
            .selectFrom('scans as s')
            .select(['s.id', sql<number>`row_number() over (partition by s.root_id order by s.started_at desc)`.as('rank')])
            .as('ranked'),
        )
        .select('ranked.id')
        .where('ranked.rank', '<=', KEEP_SCANS_PER_ROOT),
    )
    .executeTakeFirst();

  let work = 0;
  for (const [entity, table] of [['track', 'tracks'], ['album', 'albums'], ['artist', 'artists']] as const) {
    const res = await db
      .deleteFrom('work_state')
      .where('entity_type', '=', entity)
      .where((eb) => eb.not(eb.exists(eb.selectFrom(table).select(`${table}.id`).whereRef(`${table}.id`, '=', 'work_state.entity_id'))))
      .executeTakeFirst();
    work += Number(res.numDeletedRows);
  }
  const result = { jobs, images: orphans.length, tracks: removedTracks, scans: Number(scans.numDeletedRows), workState: work };
  ctx.log.info(result, 'expired records cleaned up');
  return result;
}
