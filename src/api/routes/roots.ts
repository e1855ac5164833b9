// Library roots from the dashboard: list them (with their tracks and last scan), add a folder,
// remove one (its tracks, albums left empty and work state go with it: the files stay on disk).
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ensureRoot, removeOrphans } from '../../workers/scan/sessions.js';
import { badRequest, notFound } from '../errors.js';
import { scanSnapshot } from '../events_hub.js';
import type { ApiContext } from '../server.js';
import { idParams } from './library.js';
import { errorResponses, ok, rootSchema } from './schemas.js';

export function rootRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;

  app.get('/roots', { schema: { tags: ['scans'], summary: 'library roots: configured, and those in the library with their track count and last scan', response: { 200: ok('the roots configured (SONIQUEBAY_LIBRARY_ROOTS) and those in the library', { type: 'object', properties: { configured: { type: 'array', items: { type: 'string' } }, library: { type: 'array', items: rootSchema } } }), ...errorResponses } } }, async () => {
    const known = await db.selectFrom('library_roots').select(['id', 'path', 'added_at']).orderBy('id').execute();
    const library = await Promise.all(
      known.map(async (root) => {
        const tracks = Number((await db.selectFrom('tracks').select((eb) => eb.fn.countAll().as('n')).where('root_id', '=', root.id).executeTakeFirstOrThrow()).n);
        const last = await db.selectFrom('scans').selectAll().where('root_id', '=', root.id).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
        return { ...root, tracks, lastScan: last ? { ...scanSnapshot(last), startedAt: last.started_at, finishedAt: last.finished_at, lastError: last.last_error } : null };
      }),
    );
    return { configured: runtime.config.libraryRoots, library };
  });

  app.post<{ Body: { path: string } }>(
    '/roots',
    {
      schema: {
        tags: ['scans'],
        summary: 'adds a music folder as a library root (an absolute path to an existing folder); scans may then start inside it',
        security: [{ bearer: [] }],
        body: { type: 'object', required: ['path'], additionalProperties: false, properties: { path: { type: 'string', minLength: 1, maxLength: 4096 } } },
        response: { 201: ok('added', rootSchema), 200: ok('already a root: unchanged', rootSchema), ...errorResponses },
      },
    },
    async (request, reply) => {
      const requested = request.body.path.trim();
      if (requested.includes('\0') || !path.isAbsolute(requested)) throw badRequest('path must be an absolute folder path, like /srv/music');
      let real: string;
      try {
        real = fs.realpathSync.native(requested);
      } catch {
        throw badRequest(`${requested} does not exist`);
      }
      if (!fs.statSync(real).isDirectory()) throw badRequest(`${requested} is not a folder`);
      if (real === path.parse(real).root) throw badRequest('the whole file system cannot be a library root: name your music folder');
      try {
        fs.readdirSync(real);
      } catch (err) {
        throw badRequest(`${requested} cannot be listed (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const existed = await db.selectFrom('library_roots').select('id').where('path', '=', path.resolve(requested)).executeTakeFirst();
      const root = await ensureRoot(db, path.resolve(requested));
      const row = await db.selectFrom('library_roots').select(['id', 'path', 'added_at']).where('id', '=', root.id).executeTakeFirstOrThrow();
      return reply.code(existed ? 200 : 201).send({ ...row, tracks: 0, lastScan: null });
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/roots/:id',
    {
      schema: {
        tags: ['scans'],
        summary: 'removes a library root and its tracks from the library (the files stay on disk)',
        security: [{ bearer: [] }],
        params: idParams,
        response: { 200: ok('removed, with how many tracks left the library', { type: 'object', properties: { id: { type: 'integer' }, path: { type: 'string' }, tracksRemoved: { type: 'integer' } } }), ...errorResponses },
      },
    },
    async (request) => {
      const root = await db.selectFrom('library_roots').select(['id', 'path']).where('id', '=', request.params.id).executeTakeFirst();
      if (!root) throw notFound(`library root ${request.params.id}`);
      const tracksRemoved = await db.transaction().execute(async (trx) => {
        const ids = (await trx.selectFrom('tracks').select('id').where('root_id', '=', root.id).execute()).map((t) => t.id);
        for (let i = 0; i < ids.length; i += 500) await trx.deleteFrom('work_state').where('entity_type', '=', 'track').where('entity_id', 'in', ids.slice(i, i + 500)).execute();
        // tracks, folders, scans and errors of the root go by cascade; then albums and artists left empty
        await trx.deleteFrom('library_roots').where('id', '=', root.id).execute();
        await removeOrphans(trx);
        return ids.length;
      });
      return { id: root.id, path: root.path, tracksRemoved };
    },
  );
}
