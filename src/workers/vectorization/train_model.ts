// vectorization.train_model: fits a new feature model on the library (a uniform sample of the
// tracks ready for vectors, and the tag frequencies of all of them), stores it as 'building', and
// queues the vectors of every ready track for it. The active model keeps serving queries until
// the new one has a vector for every ready track (see activateWhenComplete).
import { countEligible, eligibleTrackIds, loadInputs, type VectorInput } from '../../services/vectors/inputs.js';
import { FIT_SAMPLE, fitModel, tagSignature, VECTOR_DIMENSION } from '../../services/vectors/model.js';
import { buildingModel, tagDocumentFrequency } from '../../services/vectors/store.js';
import type { TaskContext } from '../../tasks/define.js';

/** tracks per vectors job */
export const VECTOR_BATCH = 500;
const PAGE = 5_000;

export interface TrainResult {
  version?: number;
  trained: boolean;
  reason: string;
  tracks: number;
  batches?: number;
  trainingMs?: number;
}

export async function trainModel(payload: { reason: string; force?: boolean }, ctx: TaskContext): Promise<TrainResult> {
  const { db } = ctx;
  const enabled = ctx.services.analysisEnabled;
  const building = await buildingModel(db);
  if (building && !payload.force) return { trained: false, reason: `model ${building.version} is being built`, tracks: 0 };
  const started = Date.now();
  const count = await countEligible(db, enabled);
  if (count === 0) return { trained: false, reason: 'no track is ready for vectors yet (analysis pending)', tracks: 0 };

  // a uniform sample of at most FIT_SAMPLE ready tracks, read a page at a time (reservoir sampling)
  const reservoir: number[] = [];
  let seen = 0;
  let after = 0;
  for (;;) {
    ctx.signal.throwIfAborted();
    const ids = await eligibleTrackIds(db, enabled, after, PAGE);
    if (ids.length === 0) break;
    for (const id of ids) {
      seen++;
      if (reservoir.length < FIT_SAMPLE) reservoir.push(id);
      else {
        const j = Math.floor(Math.random() * seen);
        if (j < FIT_SAMPLE) reservoir[j] = id;
      }
    }
    after = ids[ids.length - 1]!;
  }
  const sample: VectorInput[] = [];
  for (let i = 0; i < reservoir.length; i += 500) sample.push(...(await loadInputs(db, reservoir.slice(i, i + 500))));
  const df = await tagDocumentFrequency(db, count);
  const params = fitModel(sample, df, count);
  const trainingMs = Date.now() - started;

  const version = await db.transaction().execute(async (trx) => {
    // a forced retrain replaces a model still being built
    await trx.updateTable('vector_models').set({ status: 'retired' }).where('status', '=', 'building').execute();
    const row = await trx
      .insertInto('vector_models')
      .values({
        status: 'building',
        dimension: VECTOR_DIMENSION,
        reason: payload.reason,
        params: JSON.stringify(params),
        track_count: count,
        tag_signature: tagSignature(df),
        training_ms: trainingMs,
        created_at: Date.now(),
        activated_at: null,
      })
      .returning('version')
      .executeTakeFirstOrThrow();
    return row.version;
  });
  // the vectors of a model replaced before it ever served are of no use
  await db.deleteFrom('track_vectors').where('model_version', 'in', db.selectFrom('vector_models').select('version').where('status', '=', 'retired').where('activated_at', 'is', null)).execute();

  // queue the vectors of every ready track for the new version, a page of ids at a time
  let batches = 0;
  after = 0;
  for (;;) {
    const ids = await eligibleTrackIds(db, enabled, after, PAGE);
    if (ids.length === 0) break;
    for (let i = 0; i < ids.length; i += VECTOR_BATCH) {
      await ctx.enqueue('vectorization.calculate_vectors_batch', { trackIds: ids.slice(i, i + VECTOR_BATCH), version });
      batches++;
    }
    after = ids[ids.length - 1]!;
  }
  ctx.log.info({ version, tracks: count, sample: sample.length, batches, trainingMs, reason: payload.reason }, 'vector model trained; vectors queued');
  return { version, trained: true, reason: payload.reason, tracks: count, batches, trainingMs };
}
