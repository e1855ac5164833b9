// covers.process_album_covers: album art from the album's own files first (embedded picture, then
// cover/folder/front/album.* in its folders), then, on the deferred path, the Cover Art Archive by
// release (or release group) MBID. One album's failure never fails the batch.
import { readFileInsideRoots, realRoots } from '../../services/library/roots.js';
import { OutsideLookupsDisabledError, ProviderUnavailableError } from '../../services/http/client.js';
import { CorruptImageError } from '../../services/images/store.js';
import { coverArtArchiveFront } from '../../services/providers/images.js';
import { failWork } from '../../services/work_state.js';
import type { TaskContext } from '../../tasks/define.js';
import { readEmbeddedPicture } from '../scan/metadata_extractor.js';
import { findImageFile, idsWithCover, LOOKUP_CHUNK, outsideAsNone, withCoverWrites, type CoverWrites, type ImageLinks } from './links.js';
import { queueRenders } from '../deferred/render_images.js';

export interface AlbumCoversPayload {
  albumIds: number[];
  /** look outside (Cover Art Archive) when the files have no art; set by the deferred sweep */
  outside?: boolean;
}

type Outcome = 'embedded' | 'folder' | 'coverartarchive' | 'had' | 'later' | 'none' | 'failed';

export async function processAlbumCovers(payload: AlbumCoversPayload, ctx: TaskContext): Promise<Record<Outcome, number>> {
  const counts: Record<Outcome, number> = { embedded: 0, folder: 0, coverartarchive: 0, had: 0, later: 0, none: 0, failed: 0 };
  const roots = await realRoots(ctx.db);
  await withCoverWrites(ctx.db, async (writes) => {
    for (let i = 0; i < payload.albumIds.length; i += LOOKUP_CHUNK) {
      // looked up a chunk at a time: one query per kind instead of three per album
      const chunk = await lookUpAlbums(ctx.db, payload.albumIds.slice(i, i + LOOKUP_CHUNK));
      for (const album of chunk) {
        ctx.signal.throwIfAborted();
        counts[await albumCover(album, payload.outside === true, ctx, roots, writes)]++;
      }
    }
  });
  await queueRenders(ctx.db, ctx.enqueue);
  return counts;
}

interface AlbumToCover {
  id: number;
  /** undefined: the album is gone */
  row: { title: string; mbid: string | null; release_group_mbid: string | null } | undefined;
  covered: boolean;
  /** its tracks in disc and track order (only for an album without art) */
  tracks: AlbumTrack[];
}

interface AlbumTrack {
  path: string;
  folder: string;
  has_picture: number;
  picture_hash: string | null;
}

async function lookUpAlbums(db: TaskContext['db'], ids: readonly number[]): Promise<AlbumToCover[]> {
  const rows = new Map((await db.selectFrom('albums').select(['id', 'title', 'mbid', 'release_group_mbid']).where('id', 'in', ids).execute()).map((r) => [r.id, r]));
  const covered = await idsWithCover(db, 'album', ids);
  const uncovered = ids.filter((id) => rows.has(id) && !covered.has(id));
  const tracks = new Map<number, AlbumTrack[]>();
  if (uncovered.length > 0) {
    const found = await db
      .selectFrom('tracks')
      .select(['album_id', 'path', 'folder', 'has_picture', 'picture_hash'])
      .where('album_id', 'in', uncovered)
      .orderBy('album_id')
      .orderBy('disc_no')
      .orderBy('track_no')
      .execute();
    for (const { album_id: albumId, ...track } of found) {
      if (albumId === null) continue;
      const list = tracks.get(albumId) ?? [];
      list.push(track);
      tracks.set(albumId, list);
    }
  }
  return ids.map((id) => ({ id, row: rows.get(id), covered: covered.has(id), tracks: tracks.get(id) ?? [] }));
}

/** `roots`: the library roots' real paths (realRoots), the only places files are read from */
async function albumCover({ id, row: album, covered, tracks }: AlbumToCover, outside: boolean, ctx: TaskContext, roots: readonly string[], writes: CoverWrites): Promise<Outcome> {
  const { db, services } = ctx;
  const { links, marks } = writes;
  if (!album) return 'none';
  try {
    if (covered) {
      marks.mark('album', id, 'cover', 'done');
      return 'had';
    }
    const local = await localCover(id, tracks, ctx, roots, links);
    if (local) {
      marks.mark('album', id, 'cover', 'done');
      return local;
    }
    marks.mark('album', id, 'cover', 'done', { error: 'no art in its files or folders' });
    if (!album.mbid && !album.release_group_mbid) return 'none';
    if (!services.http.enabled) return 'none';
    if (!outside) {
      // the outside lookup waits for the deferred sweep: it never slows a scan
      marks.mark('album', id, 'cover_outside', 'pending');
      return 'later';
    }
    const bytes = await coverArtArchiveFront(services.http, services.covers.providerUrls.coverartarchive, album.mbid, album.release_group_mbid, ctx.signal);
    if (!bytes) {
      marks.mark('album', id, 'cover_outside', 'done', { error: 'the Cover Art Archive has no front image' });
      return 'none';
    }
    await links.save(services.images, bytes, 'album', id, 'coverartarchive');
    marks.mark('album', id, 'cover_outside', 'done');
    return 'coverartarchive';
  } catch (err) {
    if (err instanceof OutsideLookupsDisabledError) return 'none';
    const reason = err instanceof Error ? err.message : String(err);
    const stage = outside ? 'cover_outside' : 'cover';
    if (err instanceof CorruptImageError) marks.mark('album', id, stage, 'failed', { error: reason });
    else await failWork(db, 'album', id, stage, reason, err instanceof ProviderUnavailableError ? err.retryAt : undefined);
    ctx.log.warn({ albumId: id, album: album.title, reason }, 'album cover failed');
    return 'failed';
  }
}

/** Embedded art of one of its tracks, else an image file in one of its folders. */
async function localCover(albumId: number, tracks: readonly AlbumTrack[], ctx: TaskContext, roots: readonly string[], links: ImageLinks): Promise<'embedded' | 'folder' | null> {
  const { services } = ctx;
  for (const track of tracks.filter((t) => t.has_picture)) {
    // the scan took the picture's hash: once the track's own covers job stored it, no read again
    const stored = track.picture_hash ? services.images.stored(track.picture_hash) : null;
    if (stored) {
      links.link(stored, 'album', albumId, 'embedded');
      return 'embedded';
    }
    try {
      const picture = await readEmbeddedPicture(track.path, roots);
      if (picture) {
        await links.save(services.images, Buffer.from(picture.data), 'album', albumId, 'embedded');
        return 'embedded';
      }
    } catch (err) {
      ctx.log.debug({ path: track.path, err: err instanceof Error ? err.message : String(err) }, 'embedded picture unusable, trying the next track');
    }
  }
  for (const folder of new Set(tracks.map((t) => t.folder))) {
    const found = findImageFile(folder, services.covers.fileNames);
    const bytes = found ? await readFileInsideRoots(found, roots).catch(outsideAsNone) : null;
    if (!bytes) continue;
    await links.save(services.images, bytes, 'album', albumId, 'folder');
    return 'folder';
  }
  return null;
}
