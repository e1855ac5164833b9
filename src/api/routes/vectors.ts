// Similarity: tracks like a track (with filters), a radio from seed tracks, a path between two.
import type { FastifyInstance } from 'fastify';
import { path as pathBetween, playlist, similar, type SimilarFilters } from '../../services/vectors/queries.js';
import { modelHealth } from '../../workers/vectorization/model_watch.js';
import type { ApiContext } from '../server.js';
import { idParams } from './library.js';
import { errorResponses, modelHealthSchema, ok, similarAnswerSchema } from './schemas.js';

const answer = { 200: ok('the model version that answered and the tracks, each with its similarity', similarAnswerSchema), ...errorResponses };

const trackId = { type: 'integer', minimum: 1, maximum: 2 ** 53 - 1 } as const;

export function vectorRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;

  app.get<{ Params: { id: number }; Querystring: { k: number; excludeArtist?: boolean; excludeAlbum?: boolean; yearMin?: number; yearMax?: number; bpmMin?: number; bpmMax?: number; genre?: string } }>(
    '/tracks/:id/similar',
    {
      schema: {
        tags: ['similarity'],
        summary: 'the tracks most like this one',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            k: { type: 'integer', minimum: 1, maximum: 200, default: 20 },
            excludeArtist: { type: 'boolean' },
            excludeAlbum: { type: 'boolean' },
            yearMin: { type: 'integer', minimum: 0, maximum: 9999 },
            yearMax: { type: 'integer', minimum: 0, maximum: 9999 },
            bpmMin: { type: 'number', minimum: 0, maximum: 1000 },
            bpmMax: { type: 'number', minimum: 0, maximum: 1000 },
            genre: { type: 'string', minLength: 1, maxLength: 100 },
          },
        },
        response: answer,
      },
    },
    async (request) => {
      const q = request.query;
      const filters: SimilarFilters = {
        ...(q.excludeArtist ? { excludeSameArtist: true } : {}),
        ...(q.excludeAlbum ? { excludeSameAlbum: true } : {}),
        ...(q.yearMin !== undefined ? { yearMin: q.yearMin } : {}),
        ...(q.yearMax !== undefined ? { yearMax: q.yearMax } : {}),
        ...(q.bpmMin !== undefined ? { bpmMin: q.bpmMin } : {}),
        ...(q.bpmMax !== undefined ? { bpmMax: q.bpmMax } : {}),
        ...(q.genre !== undefined ? { genre: q.genre } : {}),
      };
      return similar(db, runtime.vectors, request.params.id, q.k, filters);
    },
  );

  app.get<{ Querystring: { seeds: string; length: number } }>(
    '/playlists',
    {
      schema: {
        tags: ['similarity'],
        summary: 'a radio from seed tracks (`seeds=12,40`): the seeds, then tracks like them; no repeats, no artist twice in a row',
        querystring: {
          type: 'object',
          required: ['seeds'],
          additionalProperties: false,
          properties: { seeds: { type: 'string', pattern: '^[1-9][0-9]{0,15}(,[1-9][0-9]{0,15}){0,19}$' }, length: { type: 'integer', minimum: 1, maximum: 500, default: 30 } },
        },
        response: answer,
      },
    },
    async (request) => playlist(db, runtime.vectors, request.query.seeds.split(',').map(Number), request.query.length),
  );

  app.get<{ Querystring: { from: number; to: number; length: number } }>(
    '/paths',
    {
      schema: {
        tags: ['similarity'],
        summary: 'a smooth transition from one track to another',
        querystring: { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: trackId, to: trackId, length: { type: 'integer', minimum: 2, maximum: 200, default: 10 } } },
        response: answer,
      },
    },
    async (request) => pathBetween(db, runtime.vectors, request.query.from, request.query.to, request.query.length),
  );

  app.get('/vectors/status', { schema: { tags: ['similarity'], summary: 'the active model, a model being built, coverage', response: { 200: ok('the active model, a model being built, coverage and warnings', modelHealthSchema), ...errorResponses } } }, async () => modelHealth({ db, services: runtime.services }));
}
