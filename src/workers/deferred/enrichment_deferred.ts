// deferred.process_enrichment_batch: analysis and enrichment work that is due (never queued, a
// lost job, or a failed attempt whose backoff has elapsed), and the Last.fm lookups, queued at low
// priority a few at a time.
import { takeDueWork } from '../../services/work_state.js';
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
  return queued;
}
