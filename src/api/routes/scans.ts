// Scans: start one (inside the library roots), list them, follow one, cancel one; library roots.
import type { FastifyInstance } from 'fastify';
import { beginScan, getScan, requestCancel } from '../../workers/scan/sessions.js';
import { notFound } from '../errors.js';
import { scanSnapshot } from '../events_hub.js';
import { confinedFolder } from '../paths.js';
import type { ApiContext } from '../server.js';
import { paging, pagingSchema } from './paging.js';
import { errorResponses, obj, ok, pageOf, scanDetailSchema, scanSchema, scanStartSchema } from './schemas.js';

const scanIdParams = { type: 'object', properties: { id: { type: 'string', maxLength: 100 } } } as const;

export function scanRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;

  app.post<{ Body: { root: string; full?: boolean } }>(
    '/scans',
    {
      schema: {
        tags: ['scans'],
        summary: 'starts a scan of the library root holding a folder (or follows the one running)',
        security: [{ bearer: [] }],
        body: { type: 'object', required: ['root'], additionalProperties: false, properties: { root: { type: 'string', minLength: 1, maxLength: 4096 }, full: { type: 'boolean' } } },
        response: { 202: ok('a scan started: follow it at /scans/{id} or /events', scanStartSchema), 200: ok('a scan of that root was running: it is the one followed', scanStartSchema), ...errorResponses },
      },
    },
    async (request, reply) => {
      const root = await confinedFolder(runtime, request.body.root);
      const { scanId, started } = await beginScan(db, root, request.body.full === true, (payload) => runtime.broker.enqueue('scan.discovery', payload, { jobId: `scan-${payload.scanId}` }));
      return reply.code(started ? 202 : 200).send({ scanId, root, started });
    },
  );

  app.get<{ Querystring: { limit: number; offset: number } }>('/scans', { schema: { tags: ['scans'], summary: 'scans, newest first', querystring: pagingSchema, response: { 200: ok('a page of scans', pageOf(scanSchema)), ...errorResponses } } }, async (request) => {
    const { limit, offset } = paging(request.query);
    const rows = await db.selectFrom('scans').selectAll().orderBy('started_at', 'desc').limit(limit).offset(offset).execute();
    return { items: rows.map((s) => ({ ...scanSnapshot(s), root: s.root_path, startedAt: s.started_at, finishedAt: s.finished_at, lastError: s.last_error })), limit, offset };
  });

  app.get<{ Params: { id: string } }>('/scans/:id', { schema: { tags: ['scans'], summary: 'one scan and its progress', params: scanIdParams, response: { 200: ok('the scan: status, counts, percent, files/s', scanDetailSchema), ...errorResponses } } }, async (request) => {
    const scan = await getScan(db, request.params.id);
    if (!scan) throw notFound(`scan ${request.params.id}`);
    return { ...scanSnapshot(scan), root: scan.root_path, moved: scan.moved, removed: scan.removed, startedAt: scan.started_at, finishedAt: scan.finished_at, lastError: scan.last_error };
  });

  app.post<{ Params: { id: string } }>('/scans/:id/cancel', { schema: { tags: ['scans'], summary: 'cancels a running scan (what it wrote stays)', security: [{ bearer: [] }], params: scanIdParams, response: { 200: ok('cancel requested: the scan stops after the batch it is on', obj({ scanId: { type: 'string' }, status: { type: 'string', enum: ['cancelled'] } }, ['scanId', 'status'])), ...errorResponses } } }, async (request) => {
    if (!(await requestCancel(db, request.params.id))) throw notFound(`running scan ${request.params.id}`);
    return { scanId: request.params.id, status: 'cancelled' };
  });
}
