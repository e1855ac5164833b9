// deferred.retry_failed: gives failed work another round of attempts. Only work that has stayed
// failed for a day is picked (oldest first), so a give-up still means a day of quiet for a
// provider or a file, and a handful per tick never floods the queues.
import type { TaskContext } from '../../tasks/define.js';

export const FAILED_QUIET_MS = 24 * 3_600_000;

export async function retryFailed(payload: { stage?: string; limit: number }, ctx: TaskContext): Promise<{ retried: number }> {
  const now = Date.now();
  let query = ctx.db
    .selectFrom('work_state')
    .select(['entity_type', 'entity_id', 'stage'])
    .where('status', '=', 'failed')
    .where('updated_at', '<', now - FAILED_QUIET_MS)
    .orderBy('updated_at')
    .limit(payload.limit);
  if (payload.stage) query = query.where('stage', '=', payload.stage);
  const picked = await query.execute();
  for (const item of picked) {
    await ctx.db
      .updateTable('work_state')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now })
      .where('entity_type', '=', item.entity_type)
      .where('entity_id', '=', item.entity_id)
      .where('stage', '=', item.stage)
      .where('status', '=', 'failed')
      .execute();
  }
  return { retried: picked.length };
}
