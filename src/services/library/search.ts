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
 * Tracks a page may walk with the LIKE tests alone, without the index: when the matches are dense,
 * the page's rows come within this many tracks of the listing, and reading every match from the
 * index costs more (at a million tracks, a word in 3 % of them: 5 ms walking, 16 ms through the index).
 */
const SHORT_WALK = 6_000;

/**
 * Present tracks matching the search. For a page on SQLite, how the index is used depends on how
 * many tracks it finds (`pageMatches`); a count reads the index's matches one by one, joined to
 * their tracks, and stops at its limit (an IN (…) would read every match first: 27 ms against 3 ms
 * for a count stopped at 1,051 of 30,000 matches at a million tracks).
 */
async function matchingTracks(db: Db, search: string | undefined, use: Page | 'count') {
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
    if (use === 'count') {
      // joined, SQLite reads the matches first (the plan the test checks); the later conditions name tracks and albums only
      query = query.innerJoin(sql<{ rowid: number }>`track_search`.as('s'), (join) => join.on(sql<boolean>`s.rowid = tracks.id`)).where(sql<boolean>`s.track_search match ${match}`) as unknown as typeof query;
    } else {
      const how = await pageMatches(db, match, use);
      // the unary + keeps SQLite from looking tracks up by these ids: it reads them in order instead
      if (how !== 'like-only') query = query.where(sql<boolean>`${how === 'walk' ? sql`+tracks.id` : sql`tracks.id`} in (select rowid from track_search where track_search match ${match})`);
    }
  }
  for (const w of ws) {
    query = query.where((eb: ExpressionBuilder<Database, 'tracks' | 'albums'>) => eb.or([like('tracks.title', w), like('tracks.artist_display', w), like('albums.title', w)]));
  }
  return query;
}

/**
 * How a page reads the FTS matches: few (under WALK_ABOVE) are looked up and sorted; more make the
 * page walk the listing's order, keeping the tracks among them; so many that the page's rows are
 * expected within SHORT_WALK tracks of the listing make it walk with the LIKE tests alone (the
 * track count is estimated by the highest id: one lookup).
 */
async function pageMatches(db: Db, match: string, page: Page): Promise<'sort' | 'walk' | 'like-only'> {
  const highestId = Number((await sql<{ id: number | null }>`select max(id) as id from tracks`.execute(db)).rows[0]?.id ?? 0);
  const dense = Math.ceil(((page.offset + page.limit) * highestId) / SHORT_WALK);
  const cap = Math.max(WALK_ABOVE, dense);
  const n = (await sql<{ n: number }>`select count(*) as n from (select 1 from track_search where track_search match ${match} limit ${cap})`.execute(db)).rows[0]!.n;
  if (n < WALK_ABOVE) return 'sort';
  return n >= dense ? 'like-only' : 'walk';
}

/** a page of tracks with what a listing shows of their analysis (BPM, key, loudness) */
export async function searchTracks(db: Db, search: string | undefined, page: Page) {
  return (await matchingTracks(db, search, page))
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
  return countRows(db, await matchingTracks(db, search, 'count'), atMost);
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
