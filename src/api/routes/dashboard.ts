// The dashboard page (src/api/dashboard: plain HTML, CSS and browser JavaScript) and the two
// summaries it shows besides the other routes: library stats and recent albums with covers.
import fs from 'node:fs';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { bestCovers } from '../../workers/covers/links.js';
import type { ApiContext } from '../server.js';
import { shippedUrl } from '../../shipped.js';
import { albumRowSchema, errorResponses, ok, pageOf } from './schemas.js';

const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8', 'favicon.svg': 'image/svg+xml' };
const DIR = shippedUrl('api/dashboard/');

export function dashboardRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(fs.createReadStream(new URL('index.html', DIR))));

  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.type(ASSETS['favicon.svg']!).send(fs.createReadStream(new URL('favicon.svg', DIR))));

  app.get<{ Params: { file: string } }>('/dashboard/:file', { schema: { hide: true, params: { type: 'object', properties: { file: { type: 'string', enum: Object.keys(ASSETS) } } } } }, async (request, reply) =>
    reply.type(ASSETS[request.params.file]!).header('cache-control', 'no-cache').send(fs.createReadStream(new URL(request.params.file, DIR))),
  );

  const statsSchema = { type: 'object', properties: Object.fromEntries(['tracks', 'albums', 'artists', 'unreadable files', 'analysed', 'missing'].map((k) => [k, { type: 'integer' }])) };
  app.get('/stats', { schema: { tags: ['library'], summary: 'how much the library holds (missing: tracks whose file has gone)', response: { 200: ok('counts of tracks, albums, artists, unreadable files, analysed and missing tracks', statsSchema), ...errorResponses } } }, async () => {
    const count = async (table: 'tracks' | 'albums' | 'artists' | 'scan_errors' | 'track_analysis') => Number((await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
    const missingTracks = async () => Number((await db.selectFrom('tracks').select(sql<number>`count(*)`.as('n')).where('missing_since', 'is not', null).executeTakeFirstOrThrow()).n);
    const [tracks, albums, artists, unreadable, analysed, missing] = await Promise.all([count('tracks'), count('albums'), count('artists'), count('scan_errors'), count('track_analysis'), missingTracks()]);
    return { tracks, albums, artists, 'unreadable files': unreadable, analysed, missing };
  });

  app.get<{ Querystring: { limit: number } }>(
    '/albums/recent',
    { schema: { tags: ['library'], summary: 'the albums added last, with a cover URL', querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 12 } } }, response: { 200: ok('the newest albums, each once, with the URL of its best cover', pageOf(albumRowSchema)), ...errorResponses } } },
    async (request) => {
      // covers apart: an album has one cover per source (embedded, folder, Cover Art Archive), and a
      // join gave one row per cover, so the same album twice
      const rows = await db
        .selectFrom('albums')
        .innerJoin('artists', 'artists.id', 'albums.album_artist_id')
        .select(['albums.id', 'albums.title', 'artists.name as artist', 'albums.album_artist_id as artistId', 'albums.year'])
        .orderBy('albums.created_at', 'desc')
        .orderBy('albums.id', 'desc')
        .limit(request.query.limit)
        .execute();
      const covers = await bestCovers(db, 'album', rows.map((r) => r.id));
      return { items: rows.map((r) => ({ ...r, cover: covers.has(r.id) ? `/images/${covers.get(r.id)!.hash}/256.webp` : null })) };
    },
  );
}
