// Jobs: counts per queue and state, a list per state, one job, retry failed ones, and queueing a
// task by name (validated by the registry: unknown names and bad payloads are refused).
import type { FastifyInstance } from 'fastify';
import type { JobState } from '../../broker/port.js';
import { resolveTask } from '../../broker/resolve.js';
import { ApiError, notFound } from '../errors.js';
import { confinedFolder } from '../paths.js';
import type { ApiContext } from '../server.js';
import { errorResponses, jobRefSchema, jobSchema, obj, ok, queueCountsSchema } from './schemas.js';

const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;
/** stages of a scan that take file paths from their payload: only the pipeline queues them */
const INTERNAL_TASKS = new Set(['metadata.extract_batch', 'batch.process_entities']);

export function jobRoutes(app: FastifyInstance, { runtime }: ApiContext): void {
  const broker = runtime.broker;
  const queueNames = Object.keys(runtime.registry.queues ?? {});

  app.get('/queues', { schema: { tags: ['jobs'], summary: 'jobs per queue and state', response: { 200: ok('per queue, the number of jobs in each state', queueCountsSchema), ...errorResponses } } }, async () => broker.counts());

  app.get<{ Querystring: { state: JobState; queue?: string; limit: number } }>(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'jobs of a state (failed ones with their error), newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { state: { type: 'string', enum: [...STATES], default: 'failed' }, queue: { type: 'string', maxLength: 50, ...(queueNames.length > 0 ? { enum: queueNames } : {}) }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
        response: { 200: ok('the jobs, newest first', obj({ items: { type: 'array', items: jobSchema } }, ['items'])), ...errorResponses },
      },
    },
    async (request) => {
      const { state, queue, limit } = request.query;
      return { items: await broker.listJobs({ state, limit, ...(queue ? { queue } : {}) }) };
    },
  );

  app.get<{ Params: { id: string } }>('/jobs/:id', { schema: { tags: ['jobs'], summary: 'one job in full', params: { type: 'object', properties: { id: { type: 'string', maxLength: 200, pattern: '^[a-z_]+:[^\\s]+$' } } }, response: { 200: ok('the job: payload, state, attempts, progress, result or error', jobSchema), ...errorResponses } } }, async (request) => {
    const job = await broker.getJob(request.params.id);
    if (!job) throw notFound(`job ${request.params.id}`);
    return job;
  });

  app.post<{ Body: { ids?: string[]; all?: boolean; queue?: string } }>(
    '/jobs/retry',
    {
      schema: {
        tags: ['jobs'],
        summary: 'retries failed jobs: some by id, or all (of a queue)',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { ids: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 200 } }, all: { type: 'boolean' }, queue: { type: 'string', maxLength: 50 } },
        },
        response: { 200: ok('how many failed jobs went back to waiting', obj({ retried: { type: 'integer' } }, ['retried'])), ...errorResponses },
      },
    },
    async (request) => {
      const { ids, all, queue } = request.body;
      const retried = all ? await broker.retryAllFailed(queue) : await broker.retry(ids ?? []);
      return { retried };
    },
  );

  app.post<{ Params: { name: string }; Body: { payload?: unknown; priority?: number; delayMs?: number } }>(
    '/tasks/:name',
    {
      schema: {
        tags: ['jobs'],
        summary: 'queues a task by name (the routing table picks the queue); the payload is checked against the task schema',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { name: { type: 'string', maxLength: 100 } } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { payload: {}, priority: { type: 'integer', minimum: 0, maximum: 2_097_151 }, delayMs: { type: 'integer', minimum: 0, maximum: 2_592_000_000 } },
        },
        response: { 202: ok('queued: the job id to follow at /jobs/{id}', jobRefSchema), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { priority, delayMs } = request.body ?? {};
      let payload = request.body?.payload ?? {};
      // tasks that take file paths: a scan only of a library root, the pipeline's inner stages never
      const resolved = resolveTask(runtime.registry, request.params.name, payload);
      if (INTERNAL_TASKS.has(resolved.def.name)) throw new ApiError(403, 'internal_task', `${resolved.def.name} is a stage of a scan: start a scan (POST /scans) instead`);
      if (resolved.def.name === 'scan.discovery') {
        const root = await confinedFolder(runtime, String((resolved.payload as { root: unknown }).root));
        payload = { ...(resolved.payload as object), root };
      }
      const ref = await broker.enqueue(resolved.def.name, payload, { ...(priority !== undefined ? { priority } : {}), ...(delayMs !== undefined ? { delayMs } : {}) });
      return reply.code(202).send(ref);
    },
  );
}
