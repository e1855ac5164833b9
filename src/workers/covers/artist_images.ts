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
import { findImageFile, idsWithCover, LOOKUP_CHUNK, outsideAsNone, withCoverWrites, type CoverWrites } from './links.js';
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
  const rootPaths = new Set((await ctx.db.selectFrom('library_roots').select('path').execute()).map((r) => r.path));
  await withCoverWrites(ctx.db, async (writes) => {
    for (let i = 0; i < payload.artistIds.length; i += LOOKUP_CHUNK) {
      // looked up a chunk at a time: one query per kind instead of three per artist
      const chunk = await lookUpArtists(ctx.db, payload.artistIds.slice(i, i + LOOKUP_CHUNK));
      for (const artist of chunk) {
        ctx.signal.throwIfAborted();
        counts[await artistImage(artist, payload.outside === true, ctx, roots, rootPaths, writes)]++;
      }
    }
  });
  await queueRenders(ctx.db, ctx.enqueue);
  return counts;
}

interface ArtistToImage {
  id: number;
  /** undefined: the artist is gone */
  row: { name: string; mbid: string | null } | undefined;
  covered: boolean;
  /** the folders of the albums it is the album artist of (only for an artist without an image) */
  albumFolders: string[];
}

async function lookUpArtists(db: TaskContext['db'], ids: readonly number[]): Promise<ArtistToImage[]> {
  const rows = new Map((await db.selectFrom('artists').select(['id', 'name', 'mbid']).where('id', 'in', ids).execute()).map((r) => [r.id, r]));
  const covered = await idsWithCover(db, 'artist', ids);
  const uncovered = ids.filter((id) => rows.has(id) && !covered.has(id));
  const folders = new Map<number, string[]>();
  if (uncovered.length > 0) {
    const found = await db
      .selectFrom('tracks')
      .innerJoin('albums', 'albums.id', 'tracks.album_id')
      .select(['albums.album_artist_id', 'tracks.folder'])
      .distinct()
      .where('albums.album_artist_id', 'in', uncovered)
      .execute();
    for (const { album_artist_id: artistId, folder } of found) {
      const list = folders.get(artistId) ?? [];
      list.push(folder);
      folders.set(artistId, list);
    }
  }
  return ids.map((id) => ({ id, row: rows.get(id), covered: covered.has(id), albumFolders: folders.get(id) ?? [] }));
}

/**
 * `roots`: the library roots' real paths (realRoots), the only places files are read from;
 * `rootPaths`: the roots as recorded (an artist folder is never a root)
 */
async function artistImage(
  { id, row: artist, covered, albumFolders }: ArtistToImage,
  outside: boolean,
  ctx: TaskContext,
  roots: readonly string[],
  rootPaths: ReadonlySet<string>,
  { links, marks }: CoverWrites,
): Promise<Outcome> {
  const { db, services } = ctx;
  if (!artist) return 'none';
  try {
    if (covered) {
      marks.mark('artist', id, 'image', 'done');
      return 'had';
    }
    const found = artistFolderImage(artist.name, albumFolders, rootPaths, services.covers.artistFileNames);
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
function artistFolderImage(name: string, albumFolders: readonly string[], rootPaths: ReadonlySet<string>, fileNames: readonly string[]): string | null {
  const key = nameKey(name);
  for (const parent of new Set(albumFolders.map((f) => path.dirname(f)))) {
    if (rootPaths.has(parent) || nameKey(path.basename(parent)) !== key) continue;
    const file = findImageFile(parent, fileNames);
    if (file) return file;
  }
  return null;
}
