// deferred.process_vectors_batch: the safety net of vector work. Ready tracks without a vector of
// a live model (a lost job, a track analysed while no model existed) are queued, up to `limit`
// per tick and model; with no model yet and tracks ready, the first model is trained, and refitted
// once the library has doubled since (refitWhenGrown). The vectors of a retired model are deleted
// once the model after it has served for RETIRED_GRACE_MS.
import { missingVectors } from '../../services/vectors/inputs.js';
import { liveModels } from '../../services/vectors/store.js';
import type { TaskContext } from '../../tasks/define.js';
import { activateWhenComplete } from '../vectorization/calculate_vectors.js';
import { refitWhenGrown } from '../vectorization/model_watch.js';
import { VECTOR_BATCH } from '../vectorization/train_model.js';

/** how long the vectors of a replaced model stay, for the query processes still building the new index */
export const RETIRED_GRACE_MS = 3_600_000;

export async function processVectorsBatch(payload: { limit: number }, ctx: TaskContext): Promise<{ queued: number; train?: boolean; refit?: string; deleted?: number }> {
  const deleted = await deleteRetiredVectors(ctx);
  const models = await liveModels(ctx.db);
  if (models.length === 0) {
    const ready = await missingVectors(ctx.db, ctx.services.analysisEnabled, -1, 1);
    if (ready.length === 0) return { queued: 0, deleted };
    await ctx.enqueue('vectorization.train_model', { reason: 'first model: tracks are ready for vectors' }, { priority: 10 });
    return { queued: 0, train: true, deleted };
  }
  const active = models.find((m) => m.status === 'active');
  const refit = active && !models.some((m) => m.status === 'building') ? await refitWhenGrown(ctx, active) : null;
  let queued = 0;
  for (const model of models) {
    const ids = await missingVectors(ctx.db, ctx.services.analysisEnabled, model.version, payload.limit);
    for (let i = 0; i < ids.length; i += VECTOR_BATCH) {
      await ctx.enqueue('vectorization.calculate_vectors_batch', { trackIds: ids.slice(i, i + VECTOR_BATCH), version: model.version }, { priority: 10 });
    }
    queued += ids.length;
    // a model whose last batch was lost: nothing missing any more, so it can take over now
    if (ids.length === 0 && model.status === 'building') await activateWhenComplete(ctx, model);
  }
  return { queued, deleted, ...(refit ? { refit } : {}) };
}

async function deleteRetiredVectors(ctx: TaskContext): Promise<number> {
  const { db } = ctx;
  const active = await db.selectFrom('vector_models').select(['version', 'activated_at']).where('status', '=', 'active').orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (!active || active.activated_at === null || Date.now() - Number(active.activated_at) < RETIRED_GRACE_MS) return 0;
  const res = await db.deleteFrom('track_vectors').where('model_version', 'in', db.selectFrom('vector_models').select('version').where('status', '=', 'retired')).executeTakeFirst();
  const n = Number(res.numDeletedRows);
  if (n > 0) ctx.log.info({ deleted: n }, 'vectors of retired models deleted');
  return n;
}
