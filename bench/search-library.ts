// A large synthetic library written straight into the database (no files), for bench/search.bench.ts:
// `tracks` tracks, 10 an album, an album artist per 4 albums, one track in 5 featuring a second
// artist (tracks/4 artists in all); names are made of syllables (as scripts/million-library.ts writes them), so that a
// search word of 4+ letters matches a small part of the library and a 2-letter one a large part.
import type { Db } from '../src/db/types.js';
import { word } from '../scripts/million-library.js';

export async function insertSearchLibrary(db: Db, tracks: number): Promise<void> {
  const now = Date.now();
  const root = await db.insertInto('library_roots').values({ path: '/bench', added_at: now }).returning('id').executeTakeFirstOrThrow();
  const albums = Math.ceil(tracks / 10);
  const albumArtists = Math.ceil(albums / 4);
  const artists = Math.ceil(tracks / 4);
  const chunk = 500;
  for (let from = 0; from < artists; from += chunk) {
    const rows = Array.from({ length: Math.min(chunk, artists - from) }, (_, i) => {
      const name = `${word(from + i + 7)} ${word((from + i) * 13 + 3)}`;
      return { name, name_key: `${name.toLowerCase()}#${from + i}`, created_at: now, updated_at: now };
    });
    await db.insertInto('artists').values(rows).execute();
  }
  const artistIds = (await db.selectFrom('artists').select('id').orderBy('id').execute()).map((r) => r.id);
  for (let from = 0; from < albums; from += chunk) {
    const rows = Array.from({ length: Math.min(chunk, albums - from) }, (_, i) => {
      const n = from + i;
      return { title: `${word(n * 31 + 11)} ${word(n)}`, album_key: `album#${n}`, album_artist_id: artistIds[n % albumArtists]!, year: 1960 + (n % 60), compilation: 0, created_at: now, updated_at: now };
    });
    await db.insertInto('albums').values(rows).execute();
  }
  const albumIds = (await db.selectFrom('albums').select(['id', 'album_artist_id']).orderBy('id').execute());
  const names = new Map((await db.selectFrom('artists').select(['id', 'name']).execute()).map((r) => [r.id, r.name]));
  const featured = (n: number) => artistIds[albumArtists + ((n * 7) % (artistIds.length - albumArtists))]!;
  for (let from = 0; from < tracks; from += chunk) {
    const rows = Array.from({ length: Math.min(chunk, tracks - from) }, (_, i) => {
      const n = from + i;
      const album = albumIds[Math.floor(n / 10)]!;
      const featuring = n % 5 === 0 ? ` feat. ${names.get(featured(n))}` : '';
      return {
        path: `/bench/${n}.mp3`, root_id: root.id, folder: `/bench/${Math.floor(n / 10)}`, file_size: 1000, mtime_ms: now, identity: `id${n}`,
        title: `${word(n * 17 + 5)} ${word(n)}`, artist_display: `${names.get(album.album_artist_id)}${featuring}`, album_id: album.id, artist_id: album.album_artist_id,
        disc_no: 1, track_no: (n % 10) + 1, compilation: 0, has_lyrics: 0, has_picture: 0, created_at: now, updated_at: now,
      };
    });
    await db.insertInto('tracks').values(rows).execute();
  }
  // track_artists as the scan writes them: the album artist, then the featured one
  await db.insertInto('track_artists').columns(['track_id', 'artist_id', 'position']).expression((eb) => eb.selectFrom('tracks').select(['id', 'artist_id', eb.lit(0).as('position')])).execute();
  const ids = (await db.selectFrom('tracks').select('id').where('root_id', '=', root.id).orderBy('id').execute()).map((r) => r.id);
  for (let from = 0; from < ids.length; from += 5 * chunk) {
    const rows = ids.slice(from, from + 5 * chunk).flatMap((id, i) => ((from + i) % 5 === 0 ? [{ track_id: id, artist_id: featured(from + i), position: 1 }] : []));
    if (rows.length > 0) await db.insertInto('track_artists').values(rows).execute();
  }
}
