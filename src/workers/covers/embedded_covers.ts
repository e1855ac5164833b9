// covers.extract_embedded_covers_batch: each track's embedded front cover (else its first
// picture), stored once per content hash, linked to the track and, if it has none, its album.
import { OutsideRootsError, realRoots } from '../../services/library/roots.js';
import { CorruptImageError, type StoredImage } from '../../services/images/store.js';
import { failWork } from '../../services/work_state.js';
import type { TaskContext } from '../../tasks/define.js';
import { readEmbeddedPicture } from '../scan/metadata_extractor.js';
import { idsWithCover, withCoverWrites } from './links.js';
import { queueRenders } from '../deferred/render_images.js';

export interface CoverBatchResult {
  stored: number;
  reused: number;
  none: number;
  failed: number;
}

export async function extractEmbeddedCovers(payload: { trackIds: number[] }, ctx: TaskContext): Promise<CoverBatchResult> {
  const { db, services } = ctx;
  const tracks = await db.selectFrom('tracks').select(['id', 'path', 'album_id', 'has_picture', 'picture_hash']).where('id', 'in', payload.trackIds).execute();
  const result: CoverBatchResult = { stored: 0, reused: 0, none: 0, failed: 0 };
  // albums linked already, or by this job: an album's art comes from its first track that has one
  const albums = await idsWithCover(db, 'album', [...new Set(tracks.flatMap((t) => (t.album_id === null ? [] : [t.album_id])))]);
  const roots = await realRoots(db);
  // the tracks of an album mostly carry the same picture: read and stored once, by the hash the
  // scan took of the picture's bytes (the store's own content address); the other tracks, in this
  // batch or a later one, are linked to it without a read
  const seen = new Map<string, StoredImage>();
  const known = (hash: string | null): StoredImage | undefined => {
    if (!hash) return undefined;
    const stored = seen.get(hash) ?? services.images.stored(hash) ?? undefined;
    if (stored) seen.set(hash, stored);
    return stored;
  };
  // a corrupt picture fails every track that carries it (an album's worth): read and tried once
  const corrupt = new Map<string, CorruptImageError>();
  // links and work marks written together at the end (the job runs again after a crash)
  await withCoverWrites(db, async ({ links, marks }) => {
    for (const track of tracks) {
      ctx.signal.throwIfAborted();
      if (!track.has_picture) {
        result.none++;
        marks.mark('track', track.id, 'covers', 'done');
        continue;
      }
      try {
        const bad = track.picture_hash ? corrupt.get(track.picture_hash) : undefined;
        if (bad) throw bad;
        let stored = known(track.picture_hash);
        if (stored) {
          links.link(stored, 'track', track.id, 'embedded');
          result.reused++;
        } else {
          const picture = await readEmbeddedPicture(track.path, roots);
          if (!picture) {
            result.none++;
            marks.mark('track', track.id, 'covers', 'done');
            continue;
          }
          stored = await links.save(services.images, Buffer.from(picture.data), 'track', track.id, 'embedded');
          if (track.picture_hash) seen.set(track.picture_hash, stored);
          if (stored.created) result.stored++;
          else result.reused++;
        }
        if (track.album_id !== null && !albums.has(track.album_id)) {
          links.link(stored, 'album', track.album_id, 'embedded');
          albums.add(track.album_id);
        }
        marks.mark('track', track.id, 'covers', 'done');
      } catch (err) {
        result.failed++;
        if (err instanceof CorruptImageError && track.picture_hash) corrupt.set(track.picture_hash, err);
        const reason = err instanceof CorruptImageError ? `embedded picture: ${err.message}` : `embedded picture could not be read: ${err instanceof Error ? err.message : String(err)}`;
        // a corrupt picture will not get better by retrying: failed at once, with the reason
        if (err instanceof CorruptImageError || err instanceof OutsideRootsError) marks.mark('track', track.id, 'covers', 'failed', { error: reason });
        else await failWork(db, 'track', track.id, 'covers', reason);
        ctx.log.warn({ trackId: track.id, path: track.path, reason }, 'no cover from this track');
      }
    }
  });
  await queueRenders(ctx.db, ctx.enqueue);
  return result;
}
