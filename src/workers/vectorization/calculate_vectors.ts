// vectorization.calculate_vector / calculate_vectors_batch: the vectors of tracks whose inputs are
// ready, for every live model (the active one and the one being built, so that switching models
// misses no track). With no model at all yet, the first one is trained.
import type { Db } from '../../db/types.js';
import { countEligible, eligibleTracks, missingVectors } from '../../services/vectors/inputs.js';
import { countVectors, liveModels, modelByVersion, writeVectors, type ModelRow } from '../../services/vectors/store.js';
import type { TaskContext } from '../../tasks/define.js';

export async function calculateVectorsBatch(payload: { trackIds: number[]; version?: number }, ctx: TaskContext): Promise<{ written: number; versions: number[]; activated?: number }> {
  const { db } = ctx;
  let models: ModelRow[];
  if (payload.version !== undefined) {
    const model = await modelByVersion(db, payload.version);
    // a model replaced meanwhile needs nothing more
    models = model && (model.status === 'active' || model.status === 'building') ? [model] : [];
  } else {
    models = await liveModels(db);
    if (models.length === 0) {
      await ctx.enqueue('vectorization.train_model', { reason: 'first model: tracks are ready for vectors' });
      return { written: 0, versions: [] };
    }
  }
  const ready = await readyIds(db, ctx.services.analysisEnabled, payload.trackIds);
  let written = 0;
  for (const model of models) written += await writeVectors(db, model, ready);
  let activated: number | undefined;
  for (const model of models) {
    if (model.status === 'building' && (await activateWhenComplete(ctx, model))) activated = model.version;
  }
  return { written, versions: models.map((m) => m.version), ...(activated !== undefined ? { activated } : {}) };
}

export function calculateVector(payload: { trackId: number }, ctx: TaskContext) {
  return calculateVectorsBatch({ trackIds: [payload.trackId] }, ctx);
}

async function readyIds(db: Db, analysisEnabled: boolean, trackIds: readonly number[]): Promise<number[]> {
  if (trackIds.length === 0) return [];
  const rows = await eligibleTracks(db, analysisEnabled).where('tracks.id', 'in', [...trackIds]).execute();
  return rows.map((r) => r.id);
}

/**
 * Makes a building model the active one once every ready track has its vector (the previous one
 * is retired in the same transaction, so queries see one version or the other, never a mix; its
 * vectors stay for RETIRED_GRACE_MS, while the query processes build the new index, then
 * deferred.process_vectors_batch deletes them). Two counts first (cheap), the exact check only
 * when they match; a gap left by a lost job is filled by deferred.process_vectors_batch.
 */
export async function activateWhenComplete(ctx: TaskContext, model: ModelRow): Promise<boolean> {
  const { db } = ctx;
  const enabled = ctx.services.analysisEnabled;
  if ((await countVectors(db, model.version)) < (await countEligible(db, enabled))) return false;
  const missing = await missingVectors(db, enabled, model.version, 1);
  if (missing.length > 0) return false;
  const switched = await db.transaction().execute(async (trx) => {
    const res = await trx.updateTable('vector_models').set({ status: 'active', activated_at: Date.now() }).where('version', '=', model.version).where('status', '=', 'building').executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await trx.updateTable('vector_models').set({ status: 'retired' }).where('status', '=', 'active').where('version', '!=', model.version).execute();
    return true;
  });
  if (switched) ctx.log.info({ version: model.version }, 'vector model active');
  return switched;
}
