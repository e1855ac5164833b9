// maintenance.health_report (daily): one report of how the worker is doing — queue depths and
// failures, the oldest due work per stage, scans, and the vector model — logged (a warning when
// something needs a look) and kept as the job's result.
import { sql } from 'kysely';
import type { TaskContext } from '../../tasks/define.js';
import { modelHealth } from '../vectorization/model_watch.js';

/** a failed-job count or a due-work age above these gets a warning */
const FAILED_JOBS_WARN = 50;
const DUE_AGE_WARN_MS = 24 * 3_600_000;

export async function healthReport(_payload: Record<string, never>, ctx: TaskContext) {
  const { db } = ctx;
  const now = Date.now();
  const queues = await ctx.jobs.counts();
  const failedJobs = Object.values(queues).reduce((n, c) => n + (c.failed ?? 0), 0);
  const work = await db
    .selectFrom('work_state')
    .select(['stage', 'status', sql<number>`count(*)`.as('n'), sql<number>`min(coalesce(next_attempt_at, updated_at))`.as('oldest')])
    .where('status', 'in', ['pending', 'failed'])
    .groupBy(['stage', 'status'])
    .execute();
  const scans = await db.selectFrom('scans').select(['status', sql<number>`count(*)`.as('n')]).groupBy('status').execute();
  const model = await modelHealth(ctx);
  const warnings = [...model.warnings];
  if (failedJobs > FAILED_JOBS_WARN) warnings.push(`${failedJobs} failed jobs (soniquebay jobs list --state failed)`);
  for (const w of work) {
    const age = now - Number(w.oldest);
    if (w.status === 'pending' && age > DUE_AGE_WARN_MS) warnings.push(`${w.n} ${w.stage} item(s) due for ${(age / 3_600_000).toFixed(0)} h`);
  }
  const report = {
    queues,
    failedJobs,
    work: work.map((w) => ({ stage: w.stage, status: w.status, count: Number(w.n), oldestDueMs: Math.max(0, now - Number(w.oldest)) })),
    scans: Object.fromEntries(scans.map((s) => [s.status, Number(s.n)])),
    vectors: { active: model.active, building: model.building, coverage: model.coverage, missing: model.missing },
    warnings,
  };
  if (warnings.length > 0) ctx.log.warn(report, `health: ${warnings.join('; ')}`);
  else ctx.log.info(report, 'health: all well');
  return report;
}
