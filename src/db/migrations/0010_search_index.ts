import { sql, type Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Substring search backed by an index (src/services/library/search.ts, docs/api.md):
// - SQLite: `track_search`, an FTS5 table with the trigram tokenizer holding each track's title,
//   artist and album title (rowid = tracks.id), and `album_search` (album title and album artist's
//   name), kept in step by triggers on tracks, albums and artists;
// - PostgreSQL: pg_trgm GIN indexes on lower(title), lower(artist_display), lower(albums.title) and
//   lower(artists.name). Without the extension (not installed, or no right to create it) the
//   indexes are left out: search still gives the same results, by reading every row.
// Both: an index on (missing_since, artist_display), the first key of the track listing's order, so
// that a page of /tracks reads the first artists instead of sorting the whole library.
export function up(dialect: DbDialect) {
  return async (db: Kysely<unknown>): Promise<void> => {
    // SQLite's planner takes an index on missing_since alone for `missing_since is null` and then sorts
    // every present track: this one replaces it (missing_since first, for /tracks/missing too).
    await db.schema.dropIndex('tracks_missing_since').execute();
    await db.schema.createIndex('tracks_present_order').on('tracks').columns(['missing_since', 'artist_display']).execute();
    await db.schema.createIndex('artists_name').on('artists').column('name').execute();
    if (dialect === 'postgres') {
      // PostgreSQL orders by a btree's second column only after an equality on the first, and IS NULL is not one
      await db.schema.createIndex('tracks_listing').on('tracks').column('artist_display').where(sql.ref('missing_since'), 'is', null).execute();
      return trigramIndexes(db);
    }

    await sql`create virtual table track_search using fts5(title, artist, album, tokenize = 'trigram')`.execute(db);
    await sql`insert into track_search (rowid, title, artist, album)
      select t.id, t.title, t.artist_display, a.title from tracks t left join albums a on a.id = t.album_id`.execute(db);
    const insertRow = sql`insert into track_search (rowid, title, artist, album) values (new.id, new.title, new.artist_display, (select title from albums where id = new.album_id))`;
    await sql`create trigger track_search_insert after insert on tracks begin ${insertRow}; end`.execute(db);
    // an album's deletion sets its tracks' album_id to null (on delete set null): this trigger too
    await sql`create trigger track_search_update after update of title, artist_display, album_id on tracks
      when old.title is not new.title or old.artist_display is not new.artist_display or old.album_id is not new.album_id
      begin delete from track_search where rowid = old.id; ${insertRow}; end`.execute(db);
    await sql`create trigger track_search_delete after delete on tracks begin delete from track_search where rowid = old.id; end`.execute(db);
    await sql`create trigger track_search_album after update of title on albums when old.title is not new.title
      begin update track_search set album = new.title where rowid in (select id from tracks where album_id = new.id); end`.execute(db);

    // albums: their title and album artist's name (rowid = albums.id)
    await sql`create virtual table album_search using fts5(title, artist, tokenize = 'trigram')`.execute(db);
    await sql`insert into album_search (rowid, title, artist) select a.id, a.title, r.name from albums a join artists r on r.id = a.album_artist_id`.execute(db);
    const insertAlbum = sql`insert into album_search (rowid, title, artist) values (new.id, new.title, (select name from artists where id = new.album_artist_id))`;
    await sql`create trigger album_search_insert after insert on albums begin ${insertAlbum}; end`.execute(db);
    await sql`create trigger album_search_update after update of title, album_artist_id on albums
      when old.title is not new.title or old.album_artist_id is not new.album_artist_id
      begin delete from album_search where rowid = old.id; ${insertAlbum}; end`.execute(db);
    await sql`create trigger album_search_delete after delete on albums begin delete from album_search where rowid = old.id; end`.execute(db);
    await sql`create trigger album_search_artist after update of name on artists when old.name is not new.name
      begin update album_search set artist = new.name where rowid in (select id from albums where album_artist_id = new.id); end`.execute(db);
  };
}

async function trigramIndexes(db: Kysely<unknown>): Promise<void> {
  // The extension lives in `public` (where CREATE EXTENSION puts it for most users), not in the
  // library's schema: dropping that schema must not take other schemas' indexes with it. A failure
  // is undone to the savepoint, so that the migration goes on without the indexes.
  await sql`savepoint pg_trgm`.execute(db);
  try {
    await sql`create extension if not exists pg_trgm schema public`.execute(db);
    await sql`release savepoint pg_trgm`.execute(db);
  } catch {
    await sql`rollback to savepoint pg_trgm`.execute(db);
    return;
  }
  const where = await sql<{ schema: string }>`select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm'`.execute(db);
  const ops = sql`${sql.id(where.rows[0]!.schema)}.gin_trgm_ops`;
  for (const [name, table, column] of [
    ['tracks_title_trgm', 'tracks', 'title'],
    ['tracks_artist_display_trgm', 'tracks', 'artist_display'],
    ['albums_title_trgm', 'albums', 'title'],
    ['artists_name_trgm', 'artists', 'name'],
  ] as const) {
    await sql`create index ${sql.id(name)} on ${sql.id(table)} using gin (lower(${sql.id(column)}) ${ops})`.execute(db);
  }
}
