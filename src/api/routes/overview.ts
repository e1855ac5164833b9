// What the dashboard shows besides the library: files that could not be read, queues with their
// rates, the periodic tasks with their last and next run, and how much of the library is analysed
// and vectorised.
import { Cron } from 'croner';
import type { FastifyInstance } from 'fastify';
import { ANALYSIS_VERSION } from '../../services/analysis/analyse_file.js';
import { buildSchedules } from '../../schedules.js';
import { modelHealth } from '../../workers/vectorization/model_watch.js';
import type { ApiContext } from '../server.js';
import { paging, pagingSchema } from './paging.js';
import { errorResponses, modelHealthSchema, ok, pageOf } from './schemas.js';

const RATE_WINDOW_MS = 60_000;
/** finished jobs looked at per queue for its rate: a queue faster than this per minute shows this as a floor */
const RATE_SAMPLE = 500;

export function overviewRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const db = runtime.database.db;
  const count = async (query: { executeTakeFirstOrThrow(): Promise<{ n: unknown }> }) => Number((await query.executeTakeFirstOrThrow()).n);

  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/unreadable',
    { schema: { tags: ['library'], summary: 'files that could not be read, with the reason', querystring: pagingSchema, response: { 200: ok('a page of unreadable files, by path', pageOf({ type: 'object', properties: { path: { type: 'string' }, stage: { type: 'string' }, message: { type: 'string' }, createdAt: { type: 'integer' } } })), ...errorResponses } } },
    async (request) => {
      const { limit, offset } = paging(request.query);
      const items = await db.selectFrom('scan_errors').select(['path', 'stage', 'message', 'created_at as createdAt']).orderBy('path').limit(limit).offset(offset).execute();
      const total = await count(db.selectFrom('scan_errors').select((eb) => eb.fn.countAll().as('n')));
      return { items, limit, offset, total };
    },
  );

  app.get(
    '/queues/rates',
    { schema: { tags: ['jobs'], summary: 'jobs finished per minute (over the last minute) and counts, per queue', response: { 200: ok('per queue, its counts and its finished jobs per minute', { type: 'object', additionalProperties: { type: 'object', properties: { completedPerMinute: { type: 'integer' }, failedPerMinute: { type: 'integer' }, waiting: { type: 'integer' }, delayed: { type: 'integer' }, active: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } } } }), ...errorResponses } } },
    async () => {
      const counts = await runtime.broker.counts();
      const since = Date.now() - RATE_WINDOW_MS;
      const out: Record<string, Record<string, number>> = {};
      for (const [queue, c] of Object.entries(counts)) {
        const recent = async (state: 'completed' | 'failed') => (await runtime.broker.listJobs({ queue, state, limit: RATE_SAMPLE })).filter((j) => (j.finishedAt ?? 0) >= since).length;
        out[queue] = { ...c, completedPerMinute: c.completed > 0 ? await recent('completed') : 0, failedPerMinute: c.failed > 0 ? await recent('failed') : 0 };
      }
      return out;
    },
  );

  app.get(
    '/schedules',
    { schema: { tags: ['jobs'], summary: 'periodic tasks: cron, the last run of their task and the next tick', response: { 200: ok('each periodic task with its cron, next tick and last run', { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, task: { type: 'string' }, cron: { type: 'string' }, timezone: { type: 'string' }, nextRun: { type: ['integer', 'null'] }, lastRun: { type: ['integer', 'null'] }, lastState: { type: ['string', 'null'] } } } } } }), ...errorResponses } } },
    async () => {
      const schedules = buildSchedules(runtime.config.schedules, runtime.config.timezone);
      const items = await Promise.all(
        schedules.map(async (s) => {
          const next = new Cron(s.cron, { timezone: s.timezone, paused: true }).nextRun();
          const queue = runtime.registry.tasks.get(s.task)?.queue;
          // the last run: the newest finished job of its task the broker still keeps
          const finished = queue ? [...(await runtime.broker.listJobs({ queue, state: 'completed', limit: 200 })), ...(await runtime.broker.listJobs({ queue, state: 'failed', limit: 50 }))] : [];
          const last = finished.filter((j) => j.name === s.task && j.finishedAt !== null).sort((a, b) => b.finishedAt! - a.finishedAt!)[0];
          return { id: s.id, task: s.task, cron: s.cron, timezone: s.timezone, nextRun: next ? next.getTime() : null, lastRun: last?.finishedAt ?? null, lastState: last?.state ?? null };
        }),
      );
      return { items };
    },
  );

  app.get(
    '/coverage',
    { schema: { tags: ['library'], summary: 'how much of the library is analysed (current version) and has a vector of the active model', response: { 200: ok('present tracks, how many are analysed, and the vector model health', { type: 'object', properties: { tracks: { type: 'integer' }, analysed: { type: 'integer' }, analysisEnabled: { type: 'boolean' }, vectors: modelHealthSchema } }), ...errorResponses } } },
    async () => {
      const tracks = await count(db.selectFrom('tracks').select((eb) => eb.fn.countAll().as('n')).where('missing_since', 'is', null));
      const analysed = await count(db.selectFrom('track_analysis').innerJoin('tracks', 'tracks.id', 'track_analysis.track_id').select((eb) => eb.fn.countAll().as('n')).where('track_analysis.version', '=', ANALYSIS_VERSION).where('tracks.missing_since', 'is', null));
      return { tracks, analysed, analysisEnabled: runtime.services.analysisEnabled, vectors: await modelHealth({ db, services: runtime.services }) };
    },
  );
}
