// maintenance.purge_missing_tracks (daily) and `soniquebay library purge-missing`: tracks whose file
// has been gone for longer than the grace period are deleted for good, with their links, analysis,
// vectors and cover rows; albums and artists left without tracks go too. Until then a missing track
// keeps everything, so a disk plugged back in or a file moved back costs nothing.
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';
import { removeOrphans } from '../scan/sessions.js';

export const MISSING_GRACE_DAYS = 30;
const CHUNK = 500;

/** Deletes the tracks missing since before `before` (epoch ms); returns how many. */
export async function purgeMissing(db: Db, before: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const ids = (await db.selectFrom('tracks').select('id').where('missing_since', '<=', before).orderBy('id').limit(CHUNK).execute()).map((t) => t.id);
    if (ids.length === 0) break;
    await db.transaction().execute(async (trx) => {
      purged += Number((await trx.deleteFrom('tracks').where('id', 'in', ids).where('missing_since', '<=', before).executeTakeFirst()).numDeletedRows);
    });
  }
  if (purged > 0) await db.transaction().execute((trx) => removeOrphans(trx));
  return purged;
}

export async function purgeMissingTracks(payload: { olderThanDays: number }, ctx: TaskContext): Promise<{ purged: number }> {
  const purged = await purgeMissing(ctx.db, Date.now() - payload.olderThanDays * 86_400_000);
  ctx.log.info({ purged, olderThanDays: payload.olderThanDays }, 'missing tracks purged');
  return { purged };
}
