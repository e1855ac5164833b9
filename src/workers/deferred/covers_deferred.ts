// deferred.process_covers_batch: the outside lookups of covers and artist images that are due
// (never looked up, or failed with their backoff elapsed), queued at low priority.
import { takeDueWork } from '../../services/work_state.js';
import type { TaskContext } from '../../tasks/define.js';

/** a taken item is not offered again for this long, unless its job records a new due time */
const LEASE_MS = 60 * 60_000;
const LOW_PRIORITY = 10;

export async function processCoversBatch(payload: { limit: number }, ctx: TaskContext): Promise<{ albums: number; artists: number }> {
  if (!ctx.services.http.enabled) return { albums: 0, artists: 0 };
  const albums = await takeDueWork(ctx.db, 'cover_outside', payload.limit, LEASE_MS);
  const artists = await takeDueWork(ctx.db, 'image_outside', payload.limit, LEASE_MS);
  if (albums.length > 0) {
    await ctx.enqueue('covers.process_album_covers', { albumIds: albums.map((a) => a.id), outside: true }, { priority: LOW_PRIORITY });
  }
  if (artists.length > 0) {
    await ctx.enqueue('covers.extract_artist_images_batch', { artistIds: artists.map((a) => a.id), outside: true }, { priority: LOW_PRIORITY });
  }
  return { albums: albums.length, artists: artists.length };
}
