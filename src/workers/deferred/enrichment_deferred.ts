// deferred.process_enrichment_batch: analysis and enrichment work that is due (never queued, a
// lost job, or a failed attempt whose backoff has elapsed), and the Last.fm lookups, queued at low
// priority a few at a time; and tracks analysed by an older analysis version, queued again so that
// a library catches up with a new version in the background.
import { ANALYSIS_VERSION } from '../../services/analysis/analyse_file.js';
import { countLeasedWork, takeDueWork, WorkMarks } from '../../services/work_state.js';
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';

const LEASE_MS = 6 * 3_600_000;
const LOW_PRIORITY = 10;
const PER_JOB = 10;

export async function processEnrichmentBatch(payload: { limit: number }, ctx: TaskContext): Promise<Record<string, number>> {
  const plan = [
    { stage: 'analysis', task: 'metadata.analyze_audio_batch', extra: {} },
    { stage: 'enrichment', task: 'metadata.enrich_tracks_batch', extra: {} },
    { stage: 'enrichment_outside', task: 'metadata.enrich_tracks_batch', extra: { outside: true } },
  ];
  const queued: Record<string, number> = {};
  for (const { stage, task, extra } of plan) {
    if (stage === 'enrichment_outside' && !ctx.services.http.enabled) continue;
    const due = await takeDueWork(ctx.db, stage, payload.limit, LEASE_MS);
    const ids = due.filter((d) => d.entity === 'track').map((d) => d.id);
    for (let i = 0; i < ids.length; i += PER_JOB) await ctx.enqueue(task, { trackIds: ids.slice(i, i + PER_JOB), ...extra }, { priority: LOW_PRIORITY });
    queued[stage] = ids.length;
  }
  if (ctx.services.analysisEnabled) queued.analysis_outdated = await queueOutdatedAnalyses(ctx);
  return queued;
}

/** tracks of an older analysis version queued per sweep (every 2 min: up to 3,000 an hour) ... */
const OUTDATED_PER_SWEEP = 100;
/** ... while fewer analyses than this are queued and not done, so that a slow machine's queue stays short */
const OUTDATED_IN_FLIGHT = 200;

/**
 * Queues the analysis of up to OUTDATED_PER_SWEEP present tracks whose analysis an older version
 * made, marking it pending (leased like due work, so the next sweeps leave it while its job runs).
 * Their jobs skip a track someone analysed meanwhile.
 */
async function queueOutdatedAnalyses(ctx: TaskContext): Promise<number> {
  const { db } = ctx;
  if ((await countLeasedWork(db, 'analysis')) >= OUTDATED_IN_FLIGHT) return 0;
  const rows = await outdatedAnalyses(db).limit(OUTDATED_PER_SWEEP).execute();
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return 0;
  const marks = new WorkMarks();
  const leasedUntil = Date.now() + LEASE_MS;
  for (const id of ids) marks.mark('track', id, 'analysis', 'pending', { nextAttemptAt: leasedUntil });
  await marks.write(db);
  for (let i = 0; i < ids.length; i += PER_JOB) await ctx.enqueue('metadata.analyze_audio_batch', { trackIds: ids.slice(i, i + PER_JOB), skipCurrent: true }, { priority: LOW_PRIORITY });
  return ids.length;
}

/**
 * Present tracks whose analysis an older version made, and is done (not queued again already). From
 * the outdated rows (index track_analysis_version) outward: SQLite keeps the order of cross joins, and
 * otherwise started from every done analysis in work_state (68 ms a sweep at 100,000 tracks with
 * nothing outdated, 0.2 ms this way). No ORDER BY, which would sort every outdated row.
 */
export function outdatedAnalyses(db: Db) {
  return db
    .selectFrom('track_analysis')
    .crossJoin('tracks')
    .crossJoin('work_state')
    .select('tracks.id')
    .whereRef('tracks.id', '=', 'track_analysis.track_id')
    .whereRef('work_state.entity_id', '=', 'tracks.id')
    .where('work_state.entity_type', '=', 'track')
    .where('work_state.stage', '=', 'analysis')
    .where('track_analysis.version', '<', ANALYSIS_VERSION)
    .where('work_state.status', '=', 'done')
    .where('tracks.missing_since', 'is', null);
}
