// covers.extract_artist_images_batch: an artist's image from the artist's own folder (artist.*,
// folder.*), then, on the deferred path, Deezer by name, fanart.tv by MBID and Last.fm when keys
// are configured (Last.fm's placeholder star is rejected).
import { readFileInsideRoots, realRoots } from '../../services/library/roots.js';
import path from 'node:path';
import { OutsideLookupsDisabledError, ProviderUnavailableError } from '../../services/http/client.js';
import { CorruptImageError } from '../../services/images/store.js';
import { deezerArtistPicture, fanartArtistThumb, lastfmArtistImage } from '../../services/providers/images.js';
import { failWork } from '../../services/work_state.js';
import type { TaskContext } from '../../tasks/define.js';
import { nameKey, UNKNOWN_ARTIST, VARIOUS_ARTISTS } from '../scan/names.js';
import { findImageFile, hasCover, outsideAsNone, withCoverWrites, type CoverWrites } from './links.js';
import { queueRenders } from '../deferred/render_images.js';

export interface ArtistImagesPayload {
  artistIds: number[];
  /** look outside when the artist's folder has no image; set by the deferred sweep */
  outside?: boolean;
}

type Outcome = 'folder' | 'deezer' | 'fanarttv' | 'lastfm' | 'had' | 'later' | 'none' | 'failed';

/** placeholder names no outside service could match */
const NOT_A_PERSON = new Set([nameKey(UNKNOWN_ARTIST), nameKey(VARIOUS_ARTISTS)]);

export async function extractArtistImages(payload: ArtistImagesPayload, ctx: TaskContext): Promise<Record<Outcome, number>> {
  const counts: Record<Outcome, number> = { folder: 0, deezer: 0, fanarttv: 0, lastfm: 0, had: 0, later: 0, none: 0, failed: 0 };
  const roots = await realRoots(ctx.db);
  await withCoverWrites(ctx.db, async (writes) => {
    for (const id of payload.artistIds) {
      ctx.signal.throwIfAborted();
      counts[await artistImage(id, payload.outside === true, ctx, roots, writes)]++;
    }
  });
  await queueRenders(ctx.db, ctx.enqueue);
  return counts;
}

/** `roots`: the library roots' real paths (realRoots), the only places files are read from */
async function artistImage(id: number, outside: boolean, ctx: TaskContext, roots: readonly string[], { links, marks }: CoverWrites): Promise<Outcome> {
  const { db, services } = ctx;
  const artist = await db.selectFrom('artists').select(['id', 'name', 'mbid']).where('id', '=', id).executeTakeFirst();
  if (!artist) return 'none';
  try {
    if (await hasCover(db, 'artist', id)) {
      marks.mark('artist', id, 'image', 'done');
      return 'had';
    }
    const found = await artistFolderImage(id, artist.name, ctx);
    const bytes = found ? await readFileInsideRoots(found, roots).catch(outsideAsNone) : null;
    if (bytes) {
      await links.save(services.images, bytes, 'artist', id, 'folder');
      marks.mark('artist', id, 'image', 'done');
      return 'folder';
    }
    marks.mark('artist', id, 'image', 'done', { error: 'no artist image in the artist folder' });
    if (NOT_A_PERSON.has(nameKey(artist.name)) || !services.http.enabled) return 'none';
    if (!outside) {
      marks.mark('artist', id, 'image_outside', 'pending');
      return 'later';
    }
    const { providerUrls, fanartApiKey, lastfmApiKey } = services.covers;
    const sources: [Outcome, () => Promise<Buffer | null>][] = [
      ['deezer', () => deezerArtistPicture(services.http, providerUrls.deezer, artist.name, ctx.signal)],
      ...(fanartApiKey ? [['fanarttv', () => fanartArtistThumb(services.http, providerUrls.fanarttv, fanartApiKey, artist.mbid, ctx.signal)] as [Outcome, () => Promise<Buffer | null>]] : []),
      ...(lastfmApiKey ? [['lastfm', () => lastfmArtistImage(services.http, providerUrls.lastfm, lastfmApiKey, artist.name, ctx.signal)] as [Outcome, () => Promise<Buffer | null>]] : []),
    ];
    for (const [source, fetchImage] of sources) {
      const bytes = await fetchImage();
      if (!bytes) continue;
      await links.save(services.images, bytes, 'artist', id, source);
      marks.mark('artist', id, 'image_outside', 'done');
      return source;
    }
    marks.mark('artist', id, 'image_outside', 'done', { error: 'no provider has an image of this artist' });
    return 'none';
  } catch (err) {
    if (err instanceof OutsideLookupsDisabledError) return 'none';
    const reason = err instanceof Error ? err.message : String(err);
    const stage = outside ? 'image_outside' : 'image';
    if (err instanceof CorruptImageError) marks.mark('artist', id, stage, 'failed', { error: reason });
    else await failWork(db, 'artist', id, stage, reason, err instanceof ProviderUnavailableError ? err.retryAt : undefined);
    ctx.log.warn({ artistId: id, artist: artist.name, reason }, 'artist image failed');
    return 'failed';
  }
}

/**
 * The artist's folder is the parent of its albums' folders when that folder is named after the
 * artist (the usual Artist/Album/ layout) and is not a library root; its artist.* or folder.*.
 */
async function artistFolderImage(artistId: number, name: string, ctx: TaskContext): Promise<string | null> {
  const { db, services } = ctx;
  const folders = await db
    .selectFrom('tracks')
    .innerJoin('albums', 'albums.id', 'tracks.album_id')
    .select('tracks.folder')
    .distinct()
    .where('albums.album_artist_id', '=', artistId)
    .execute();
  const roots = new Set((await db.selectFrom('library_roots').select('path').execute()).map((r) => r.path));
  const key = nameKey(name);
  for (const parent of new Set(folders.map((f) => path.dirname(f.folder)))) {
    if (roots.has(parent) || nameKey(path.basename(parent)) !== key) continue;
    const file = findImageFile(parent, services.covers.artistFileNames);
    if (file) return file;
  }
  return null;
}
