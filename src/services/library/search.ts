// Listing and searching the library (CLI and API): every word of the search must appear in the
// title, the artist or the album (case-insensitive; % and _ are taken literally).
import { sql, type ExpressionBuilder } from 'kysely';
import type { Database, Db } from '../../db/types.js';

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

export async function searchTracks(db: Db, search: string | undefined, page: Page) {
  let query = db
    .selectFrom('tracks')
    .leftJoin('albums', 'albums.id', 'tracks.album_id')
    .select(['tracks.id', 'tracks.title', 'tracks.artist_display as artist', 'tracks.artist_id as artistId', 'albums.title as album', 'tracks.album_id as albumId', 'tracks.track_no as trackNo', 'tracks.year', 'tracks.duration', 'tracks.path'])
    .where('tracks.missing_since', 'is', null) // missing tracks: `library missing`, GET /tracks/missing
    .orderBy('tracks.artist_display')
    .orderBy('albums.title')
    .orderBy('tracks.disc_no')
    .orderBy('tracks.track_no')
    .orderBy('tracks.id')
    .limit(page.limit)
    .offset(page.offset);
  for (const w of words(search)) {
    query = query.where((eb: ExpressionBuilder<Database, 'tracks' | 'albums'>) => eb.or([like('tracks.title', w), like('tracks.artist_display', w), like('albums.title', w)]));
  }
  return query.execute();
}

export async function searchAlbums(db: Db, search: string | undefined, page: Page) {
  let query = db
    .selectFrom('albums')
    .innerJoin('artists', 'artists.id', 'albums.album_artist_id')
    .select(['albums.id', 'albums.title', 'artists.name as artist', 'albums.album_artist_id as artistId', 'albums.year'])
    .where((eb) => eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.album_id', '=', 'albums.id').where('tracks.missing_since', 'is', null)))
    .orderBy('artists.name')
    .orderBy('albums.title')
    .orderBy('albums.id')
    .limit(page.limit)
    .offset(page.offset);
  for (const w of words(search)) query = query.where((eb) => eb.or([like('albums.title', w), like('artists.name', w)]));
  return query.execute();
}

export async function searchArtists(db: Db, search: string | undefined, page: Page) {
  let query = db.selectFrom('artists').select(['artists.id', 'artists.name']).orderBy('artists.name').orderBy('artists.id').limit(page.limit).offset(page.offset);
  for (const w of words(search)) query = query.where(like('artists.name', w));
  return query.execute();
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
