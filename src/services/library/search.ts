// Listing and searching the library (CLI and API): every word of the search must appear in the
// title, the artist or the album (case-insensitive; % and _ are taken literally).
// The LIKE tests below are the meaning; an index narrows the rows they read (migration 0010):
// SQLite's FTS5 trigram tables `track_search` and `album_search` (words of 3 characters or more),
// PostgreSQL's pg_trgm GIN indexes on lower(column), reached through one IN (…) per word because an
// OR across a join cannot use them. Both indexes match case-insensitively at least where LIKE does,
// so the LIKE tests on what they return give exactly LIKE's results.
import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import { isPostgres } from '../../db/dialect.js';
import type { Database, Db } from '../../db/types.js';

export interface Page {
  limit: number;
  offset: number;
}

/**
 * the search's words, lower-case (at most 10); NUL characters are dropped: no stored name holds one
 * (PostgreSQL text cannot), and an FTS5 query string cannot carry one (found by the API fuzz)
 */
function words(search: string | undefined): string[] {
  return (search ?? '').replaceAll('\0', '').split(/\s+/).filter(Boolean).slice(0, 10).map((w) => w.toLowerCase());
}

function pattern(word: string): string {
  return `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function like(column: string, word: string) {
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern(word)} escape '\\'`;
}

/** trigram indexes find words of 3 characters or more; shorter ones are only tested with LIKE */
function indexable(word: string): boolean {
  return [...word].length >= 3;
}

/** an FTS5 query: every word as a quoted string (a substring, with the trigram tokenizer) */
function ftsQuery(ws: string[]): string {
  return ws.map((w) => `"${w.replaceAll('"', '""')}"`).join(' AND ');
}

/** FTS matches above which a page walks the listing's order (filtering on the matches) instead of sorting them all */
const WALK_ABOVE = 2_000;

/**
 * Present tracks matching the search. `forPage`: on SQLite, when the index finds many tracks, a page
 * reads tracks in the listing's order and keeps the matching ones (its first rows come early) rather
 * than sorting every match; a count always starts from the matches.
 */
async function matchingTracks(db: Db, search: string | undefined, forPage: boolean) {
  // missing tracks: `library missing`, GET /tracks/missing
  let query = db.selectFrom('tracks').leftJoin('albums', 'albums.id', 'tracks.album_id').where('tracks.missing_since', 'is', null);
  const ws = words(search);
  const indexed = ws.filter(indexable);
  if (isPostgres(db)) {
    for (const w of indexed) {
      query = query.where(sql<boolean>`tracks.id in (select s.id from tracks s where ${like('s.title', w)} or ${like('s.artist_display', w)}
        union all select s.id from tracks s join albums a on a.id = s.album_id where ${like('a.title', w)})`);
    }
  } else if (indexed.length > 0) {
    const match = ftsQuery(indexed);
    const many = forPage && (await sql<{ n: number }>`select count(*) as n from (select 1 from track_search where track_search match ${match} limit ${WALK_ABOVE})`.execute(db)).rows[0]!.n >= WALK_ABOVE;
    // the unary + keeps SQLite from looking tracks up by these ids: it reads them in order instead
    const id = many ? sql`+tracks.id` : sql`tracks.id`;
    query = query.where(sql<boolean>`${id} in (select rowid from track_search where track_search match ${match})`);
  }
  for (const w of ws) {
    query = query.where((eb: ExpressionBuilder<Database, 'tracks' | 'albums'>) => eb.or([like('tracks.title', w), like('tracks.artist_display', w), like('albums.title', w)]));
  }
  return query;
}

/** a page of tracks with what a listing shows of their analysis (BPM, key, loudness) */
export async function searchTracks(db: Db, search: string | undefined, page: Page) {
  return (await matchingTracks(db, search, true))
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

/** How many rows match; with `atMost`, counting stops there (a count reads every match). */
async function countRows(db: Db, matches: SelectQueryBuilder<Database, 'tracks' | 'albums' | 'artists', object>, atMost: number | undefined): Promise<number> {
  const rows = matches.select(sql<number>`1`.as('one'));
  const counted = db.selectFrom((atMost === undefined ? rows : rows.limit(atMost)).as('m')).select((eb) => eb.fn.countAll<number>().as('n'));
  return Number((await counted.executeTakeFirstOrThrow()).n);
}

export async function countTracks(db: Db, search: string | undefined, atMost?: number): Promise<number> {
  return countRows(db, await matchingTracks(db, search, false), atMost);
}

function matchingAlbums(db: Db, search: string | undefined) {
  const ws = words(search);
  const indexed = ws.filter(indexable);
  // Without indexed words, artists first (a CROSS JOIN fixes SQLite's join order): read in name order
  // through artists_name, a page's albums come from the first artists instead of a sort of every album.
  const from = indexed.length === 0 ? db.selectFrom('artists').crossJoin('albums') : db.selectFrom('artists').innerJoin('albums', (join) => join.onTrue());
  let query = from
    .whereRef('albums.album_artist_id', '=', 'artists.id')
    .where((eb) => eb.exists(eb.selectFrom('tracks').select('tracks.id').whereRef('tracks.album_id', '=', 'albums.id').where('tracks.missing_since', 'is', null)));
  if (isPostgres(db)) {
    for (const w of indexed) {
      query = query.where(sql<boolean>`albums.id in (select a.id from albums a where ${like('a.title', w)}
        union all select a.id from albums a join artists r on r.id = a.album_artist_id where ${like('r.name', w)})`);
    }
  } else if (indexed.length > 0) {
    query = query.where(sql<boolean>`albums.id in (select rowid from album_search where album_search match ${ftsQuery(indexed)})`);
  }
  for (const w of ws) query = query.where((eb) => eb.or([like('albums.title', w), like('artists.name', w)]));
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

export async function countAlbums(db: Db, search: string | undefined, atMost?: number): Promise<number> {
  return countRows(db, matchingAlbums(db, search), atMost);
}

/** Artists with a present track, as a performer or as the album artist: one whose files are all missing is hidden too. */
function matchingArtists(db: Db, search: string | undefined) {
  let query = db.selectFrom('artists').where((eb) =>
    eb.or([
      eb.exists(eb.selectFrom('track_artists').innerJoin('tracks', 'tracks.id', 'track_artists.track_id').select('tracks.id').whereRef('track_artists.artist_id', '=', 'artists.id').where('tracks.missing_since', 'is', null)),
      // albums first, then their tracks: SQLite otherwise reads every present track for each artist
      eb.exists(
        eb
          .selectFrom('albums')
          .select('albums.id')
          .whereRef('albums.album_artist_id', '=', 'artists.id')
          .where((inner) => inner.exists(inner.selectFrom('tracks').select('tracks.id').whereRef('tracks.album_id', '=', 'albums.id').where('tracks.missing_since', 'is', null))),
      ),
    ]),
  );
  for (const w of words(search)) query = query.where(like('artists.name', w));
  return query;
}

export async function searchArtists(db: Db, search: string | undefined, page: Page) {
  return matchingArtists(db, search).select(['artists.id', 'artists.name']).orderBy('artists.name').orderBy('artists.id').limit(page.limit).offset(page.offset).execute();
}

export async function countArtists(db: Db, search: string | undefined, atMost?: number): Promise<number> {
  return countRows(db, matchingArtists(db, search), atMost);
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
