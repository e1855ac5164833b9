// The library: tracks, albums and artists with search and paging; one track with its analysis,
// genres, tags and covers (the image URLs of /images).
import type { FastifyInstance } from 'fastify';
import { countAlbums, countArtists, countTracks, missingTracks, searchAlbums, searchArtists, searchTracks } from '../../services/library/search.js';
import { bestCovers } from '../../workers/covers/links.js';
import { notFound } from '../errors.js';
import type { ApiContext } from '../server.js';
import { MAX_LIMIT, paging, pagingSchema } from './paging.js';
import { albumRowSchema, anyObject, artistRowSchema, coverSchema, errorResponses, missingTrackSchema, ok, pageOf, trackRowSchema } from './schemas.js';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    search: { type: 'string', maxLength: 200 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  },
} as const;
export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 2 ** 53 - 1 } } } as const;

type ListQuery = { search?: string; limit: number; offset: number };

/** Counted this far past the page, no further: a count reads every match, and a page does not need it. */
const COUNT_AHEAD = 1_000;

/** `total` (up to the page's end + COUNT_AHEAD) and whether it is the whole count */
async function counted(count: (atMost: number) => Promise<number>, { limit, offset }: ListQuery): Promise<{ total: number; totalExact: boolean }> {
  const atMost = offset + limit + COUNT_AHEAD;
  const n = await count(atMost + 1);
  return { total: Math.min(n, atMost), totalExact: n <= atMost };
}

export function libraryRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;

  app.get<{ Querystring: ListQuery }>('/tracks', { schema: { tags: ['library'], summary: 'tracks with BPM, key and loudness; every word of `search` in the title, artist or album', querystring: listQuery, response: { 200: ok('a page of tracks, and how many match', pageOf(trackRowSchema)), ...errorResponses } } }, async (request) => {
    const { search, limit, offset } = request.query;
    return { items: await searchTracks(db, search, { limit, offset }), limit, offset, ...(await counted((atMost) => countTracks(db, search, atMost), request.query)) };
  });

  app.get<{ Querystring: { limit: number; offset: number } }>('/tracks/missing', { schema: { tags: ['library'], summary: 'tracks whose file has gone: kept (same id, analysis, vectors) until purged; hidden elsewhere', querystring: pagingSchema, response: { 200: ok('a page of missing tracks, longest missing first', pageOf(missingTrackSchema)), ...errorResponses } } }, async (request) => {
    const { limit, offset } = paging(request.query);
    return { items: await missingTracks(db, { limit, offset }), limit, offset };
  });

  app.get<{ Querystring: ListQuery }>('/albums', { schema: { tags: ['library'], summary: 'albums with a cover URL (256 px); `search` in the title or the album artist', querystring: listQuery, response: { 200: ok('a page of albums, and how many match', pageOf(albumRowSchema)), ...errorResponses } } }, async (request) => {
    const { search, limit, offset } = request.query;
    const items = await searchAlbums(db, search, { limit, offset });
    const covers = await imageUrls('album', items.map((a) => a.id));
    return { items: items.map((a) => ({ ...a, cover: covers.get(a.id) ?? null })), limit, offset, ...(await counted((atMost) => countAlbums(db, search, atMost), request.query)) };
  });

  app.get<{ Querystring: ListQuery }>('/artists', { schema: { tags: ['library'], summary: 'artists with an image URL (256 px); `search` in the name', querystring: listQuery, response: { 200: ok('a page of artists, and how many match', pageOf(artistRowSchema)), ...errorResponses } } }, async (request) => {
    const { search, limit, offset } = request.query;
    const items = await searchArtists(db, search, { limit, offset });
    const images = await imageUrls('artist', items.map((a) => a.id));
    return { items: items.map((a) => ({ ...a, image: images.get(a.id) ?? null })), limit, offset, ...(await counted((atMost) => countArtists(db, search, atMost), request.query)) };
  });

  /** the 256 px image URL of each entity that has one */
  async function imageUrls(entity: 'album' | 'artist', ids: number[]): Promise<Map<number, string>> {
    return new Map([...(await bestCovers(db, entity, ids))].map(([id, cover]) => [id, `/images/${cover.hash}/256.webp`]));
  }

  app.get<{ Params: { id: number } }>('/albums/:id', { schema: { tags: ['library'], summary: 'one album, its tracks and cover', params: idParams, response: { 200: ok('the album with its present tracks and its cover', { ...anyObject, properties: { id: { type: 'integer' }, title: { type: 'string' }, year: { type: ['integer', 'null'] }, artist: { type: 'string' }, artistId: { type: 'integer' }, tracks: { type: 'array', items: anyObject }, cover: coverSchema } }), ...errorResponses } } }, async (request) => {
    const album = await db.selectFrom('albums').innerJoin('artists', 'artists.id', 'albums.album_artist_id').select(['albums.id', 'albums.title', 'albums.year', 'artists.name as artist', 'albums.album_artist_id as artistId']).where('albums.id', '=', request.params.id).executeTakeFirst();
    if (!album) throw notFound(`album ${request.params.id}`);
    const tracks = await db.selectFrom('tracks').select(['id', 'title', 'artist_display as artist', 'disc_no as discNo', 'track_no as trackNo', 'duration']).where('album_id', '=', album.id).where('missing_since', 'is', null).orderBy('disc_no').orderBy('track_no').execute();
    return { ...album, tracks, cover: await coverOf('album', album.id) };
  });

  app.get<{ Params: { id: number } }>('/artists/:id', { schema: { tags: ['library'], summary: 'one artist, its albums and image', params: idParams, response: { 200: ok('the artist with its albums and image', { ...anyObject, properties: { id: { type: 'integer' }, name: { type: 'string' }, albums: { type: 'array', items: anyObject }, image: coverSchema } }), ...errorResponses } } }, async (request) => {
    const artist = await db.selectFrom('artists').select(['id', 'name']).where('id', '=', request.params.id).executeTakeFirst();
    if (!artist) throw notFound(`artist ${request.params.id}`);
    const albums = await db.selectFrom('albums').select(['id', 'title', 'year']).where('album_artist_id', '=', artist.id).orderBy('year').execute();
    return { ...artist, albums, image: await coverOf('artist', artist.id) };
  });

  app.get<{ Params: { id: number } }>('/tracks/:id', { schema: { tags: ['library'], summary: 'one track: tags, analysis (features), genres, tags, covers', params: idParams, response: { 200: ok('the track (every column), its album title, genres, tags, analysis and cover', { ...anyObject, properties: { track: anyObject, album: { type: ['string', 'null'] }, genres: { type: 'array', items: { type: 'string' } }, tags: { type: 'array', items: anyObject }, analysis: { anyOf: [anyObject, { type: 'null' }] }, fromTags: anyObject, cover: coverSchema } }), ...errorResponses } } }, async (request) => {
    const id = request.params.id;
    const track = await db.selectFrom('tracks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!track) throw notFound(`track ${id}`);
    const [analysis, genres, tags] = await Promise.all([
      db.selectFrom('track_analysis').selectAll().where('track_id', '=', id).executeTakeFirst(),
      db.selectFrom('track_genres').innerJoin('genres', 'genres.id', 'track_genres.genre_id').select('genres.name').where('track_genres.track_id', '=', id).execute(),
      db.selectFrom('track_tags').innerJoin('tags', 'tags.id', 'track_tags.tag_id').select(['tags.kind', 'tags.name', 'track_tags.source', 'track_tags.weight']).where('track_tags.track_id', '=', id).execute(),
    ]);
    const cover = (await coverOf('track', id)) ?? (track.album_id !== null ? await coverOf('album', track.album_id) : null);
    const album = track.album_id !== null ? await db.selectFrom('albums').select('title').where('id', '=', track.album_id).executeTakeFirst() : undefined;
    return {
      track,
      album: album?.title ?? null,
      genres: genres.map((g) => g.name),
      tags,
      analysis: analysis ? { ...analysis, features: analysis.features ? (JSON.parse(analysis.features) as unknown) : null } : null,
      fromTags: { bpm: track.bpm_tag, key: track.key_tag, replayGainTrack: track.rg_track_gain, replayGainAlbum: track.rg_album_gain },
      cover,
    };
  });

  /** the stored image of an entity as URLs of /images, or null */
  async function coverOf(entity: 'track' | 'album' | 'artist', id: number) {
    const row = (await bestCovers(db, entity, [id])).get(id);
    if (!row) return null;
    const sizes = [...runtime.config.covers.sizes].sort((a, b) => a - b);
    return { source: row.source, width: row.width, height: row.height, urls: Object.fromEntries(sizes.map((s) => [s, `/images/${row.hash}/${s}.webp`])) };
  }
}
