// The search as it was before migration 0010 (commit 6322c5f), the baseline of bench/search.bench.ts.
// Listing and searching the library (CLI and API): every word of the search must appear in the
// title, the artist or the album (case-insensitive; % and _ are taken literally).
import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, Db } from '../src/db/types.js';

export interface Page {
  limit: number;
  offset: number;
}

function words(search: string | undefined): string[] {
  return (search ?? '').split(/\s+/).filter(Boolean).slice(0, 10).map((w) => `%${w.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
}

function like(column: string, pattern: string) {
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}

function matchingTracks(db: Db, search: string | undefined) {
  // missing tracks: `library missing`, GET /tracks/missing
  let query = db.selectFrom('tracks').leftJoin('albums', 'albums.id', 'tracks.album_id').where('tracks.missing_since', 'is', null);
  for (const w of words(search)) {
    query = query.where((eb: ExpressionBuilder<Database, 'tracks' | 'albums'>) => eb.or([like('tracks.title', w), like('tracks.artist_display', w), like('albums.title', w)]));
  }
  return query;
}

/** a page of tracks with what a listing shows of their analysis (BPM, key, loudness) */
export async function searchTracks(db: Db, search: string | undefined, page: Page) {
  return matchingTracks(db, search)
    .leftJoin('track_analysis', 'track_analysis.track_id', 'tracks.id')
    .select(['tracks.id', 'tracks.title', 'tracks.artist_display as artist', 'tracks.artist_id as artistId', 'albums.title as album', 'tracks.album_id as albumId', 'tracks.track_no as trackNo', 'tracks.year', 'tracks.duration', 'tracks.path'])
    .select(['track_analysis.bpm', 'track_analysis.key', 'track_analysis.scale', 'track_analysis.lufs'])
    .orderBy('tracks.artist_display')
    .orderBy('albums.title')
    .orderBy('tracks.disc_no')
    .orderBy('tracks.track_no')
    .orderBy('tracks.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function countTracks(db: Db, search: string | undefined): Promise<number> {
  return Number((await matchingTracks(db, search).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
}

function matchingAlbums(db: Db, search: string | undefined) {
  let query = db
    .selectFrom('albums')
    .innerJoin('artists', 'artists.id', 'albums.album_artist_id')
    .where((eb) => eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.album_id', '=', 'albums.id').where('tracks.missing_since', 'is', null)));
  for (const w of words(search)) query = query.where((eb) => eb.or([like('albums.title', w), like('artists.name', w)]));
  return query;
}

export async function searchAlbums(db: Db, search: string | undefined, page: Page) {
  return matchingAlbums(db, search)
    .select(['albums.id', 'albums.title', 'artists.name as artist', 'albums.album_artist_id as artistId', 'albums.year'])
    .orderBy('artists.name')
    .orderBy('albums.title')
    .orderBy('albums.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function countAlbums(db: Db, search: string | undefined): Promise<number> {
  return Number((await matchingAlbums(db, search).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
}

/** Artists with a present track, as a performer or as the album artist: one whose files are all missing is hidden too. */
function matchingArtists(db: Db, search: string | undefined) {
  let query = db.selectFrom('artists').where((eb) =>
    eb.or([
      eb.exists(eb.selectFrom('track_artists').innerJoin('tracks', 'tracks.id', 'track_artists.track_id').select('tracks.id').whereRef('track_artists.artist_id', '=', 'artists.id').where('tracks.missing_since', 'is', null)),
      eb.exists(eb.selectFrom('albums').innerJoin('tracks', 'tracks.album_id', 'albums.id').select('tracks.id').whereRef('albums.album_artist_id', '=', 'artists.id').where('tracks.missing_since', 'is', null)),
    ]),
  );
  for (const w of words(search)) query = query.where(like('artists.name', w));
  return query;
}

export async function searchArtists(db: Db, search: string | undefined, page: Page) {
  return matchingArtists(db, search).select(['artists.id', 'artists.name']).orderBy('artists.name').orderBy('artists.id').limit(page.limit).offset(page.offset).execute();
}

export async function countArtists(db: Db, search: string | undefined): Promise<number> {
  return Number((await matchingArtists(db, search).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
}

/** Tracks whose file has gone (kept with their id, analysis and vectors until purged), longest missing first. */
export async function missingTracks(db: Db, page: Page) {
  return db
    .selectFrom('tracks')
    .select(['tracks.id', 'tracks.title', 'tracks.artist_display as artist', 'tracks.path', 'tracks.missing_since as missingSince'])
    .where('tracks.missing_since', 'is not', null)
    .orderBy('tracks.missing_since')
    .orderBy('tracks.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}
