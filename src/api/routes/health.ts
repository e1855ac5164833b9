// Liveness (the process answers), readiness (the database and the broker answer), and Prometheus
// metrics: queue depths per state (failures included), recent job durations, library counts,
// scans and their files/s, work state.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../server.js';
import { errorResponses, nonJson, obj, ok } from './schemas.js';

const readySchema = obj({ status: { type: 'string', enum: ['ok', 'unavailable'] }, checks: { type: 'object', additionalProperties: { type: 'string', description: 'ok, or what went wrong' } } }, ['status', 'checks']);

export function healthRoutes(app: FastifyInstance, { runtime, events }: ApiContext): void {
  app.get('/health/live', { schema: { tags: ['health'], summary: 'the process is up', response: { 200: ok('the process is up', obj({ status: { type: 'string', enum: ['ok'] } }, ['status'])), ...errorResponses } } }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { schema: { tags: ['health'], summary: 'the database and the broker answer', response: { 200: ok('ready: every check says ok', readySchema), 503: ok('not ready: the failing check says why', readySchema), ...errorResponses } } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await sql`select 1`.execute(runtime.database.db);
      checks.database = 'ok';
    } catch (err) {
      checks.database = (err as Error).message;
    }
    try {
      await runtime.broker.counts();
      checks.broker = 'ok';
    } catch (err) {
      checks.broker = (err as Error).message;
    }
    const ok = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', response: { 200: nonJson('Prometheus text exposition format 0.0.4', ['text/plain']), ...errorResponses } } }, async (_request, reply) => {
    const db = runtime.database.db;
    const lines: string[] = [];
    const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [Record<string, string>, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
        lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    };
    const counts = await runtime.broker.counts();
    metric('soniquebay_jobs', 'jobs per queue and state', 'gauge', Object.entries(counts).flatMap(([queue, states]) => Object.entries(states).map(([state, n]): [Record<string, string>, number] => [{ queue, state }, n])));
    // durations of the most recent finished jobs of each queue (the broker keeps them per its retention)
    const durations: [Record<string, string>, number][] = [];
    for (const queue of Object.keys(counts)) {
      const done = (await runtime.broker.listJobs({ queue, state: 'completed', limit: 100 })).filter((j) => j.startedAt !== null && j.finishedAt !== null);
      if (done.length === 0) continue;
      const ms = done.map((j) => j.finishedAt! - j.startedAt!).sort((a, b) => a - b);
      durations.push([{ queue, quantile: '0.5' }, ms[Math.floor(ms.length / 2)]! / 1000], [{ queue, quantile: '0.99' }, ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]! / 1000]);
    }
    metric('soniquebay_job_duration_seconds', 'duration of the last 100 completed jobs per queue', 'gauge', durations);
    const count = async (table: 'tracks' | 'albums' | 'artists' | 'scan_errors' | 'track_analysis') => Number((await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
    metric('soniquebay_library_items', 'items in the library', 'gauge', await Promise.all((['tracks', 'albums', 'artists', 'scan_errors', 'track_analysis'] as const).map(async (t): Promise<[Record<string, string>, number]> => [{ kind: t }, await count(t)])));
    const scans = await db.selectFrom('scans').select(['status', sql<number>`count(*)`.as('n')]).groupBy('status').execute();
    metric('soniquebay_scans', 'scan sessions per status', 'gauge', scans.map((s) => [{ status: s.status }, Number(s.n)]));
    const running = await db.selectFrom('scans').selectAll().where('status', '=', 'running').execute();
    metric('soniquebay_scan_files_per_second', 'files per second of each running scan', 'gauge', running.map((s) => [{ scan: s.id }, Math.round((s.unchanged + s.extracted + s.failed) / Math.max(0.001, (Date.now() - s.started_at) / 1000))]));
    const work = await db.selectFrom('work_state').select(['stage', 'status', sql<number>`count(*)`.as('n')]).groupBy(['stage', 'status']).execute();
    metric('soniquebay_work_items', 'work state per stage and status', 'gauge', work.map((w) => [{ stage: w.stage, status: w.status }, Number(w.n)]));
    metric('soniquebay_events_sent', 'live events emitted by this process', 'counter', [[{}, events.emitted()]]);
    return reply.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
}
