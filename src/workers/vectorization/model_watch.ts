// vectorization.monitor_tag_changes (hourly) and vectorization.check_model_health (every 6 h):
// when the library has moved away from what the active model was fitted on, a retrain is queued;
// the health report says how much of the library has a current vector. Growth by GROWTH_REFIT is
// checked sooner, by deferred.process_vectors_batch (every 3 min): see refitWhenGrown.
import { countEligible } from '../../services/vectors/inputs.js';
import { tagSignature } from '../../services/vectors/model.js';
import { activeModel, buildingModel, countVectors, tagDocumentFrequency, type ModelRow } from '../../services/vectors/store.js';
import type { TaskContext } from '../../tasks/define.js';

/** retrain when tag keys the model never saw carry this share of all tag occurrences (keys on ≥ 2 tracks) */
export const NEW_TAG_SHARE = 0.05;
/** retrain when the number of ready tracks moved by this fraction (and by at least MIN_TRACK_CHANGE) */
export const TRACK_CHANGE = 0.1;
export const MIN_TRACK_CHANGE = 10;
/**
 * refit within minutes once the ready tracks are this many times what the active model was fitted
 * on: the first model of a library is fitted on the tracks ready first (the first batches of a
 * scan, the first analysed tracks), and must not serve the whole library for the next hour. Refits
 * at each doubling re-vectorise about twice the final library in all.
 */
export const GROWTH_REFIT = 2;
/** retrain a model older than this */
export const MAX_MODEL_AGE_MS = 30 * 24 * 3_600_000;
/** the health report warns under this coverage */
export const MIN_COVERAGE = 0.95;

export type Decision = 'retrain' | 'none' | 'building' | 'waiting';

export interface TagChangeReport {
  decision: Decision;
  why: string;
  version?: number;
  tracks: number;
  newTagShare?: number;
  trackChange?: number;
  ageDays?: number;
  signatureChanged?: boolean;
}

export async function monitorTagChanges(_payload: Record<string, never>, ctx: TaskContext): Promise<TagChangeReport> {
  const { db } = ctx;
  const tracks = await countEligible(db, ctx.services.analysisEnabled);
  const building = await buildingModel(db);
  if (building) return { decision: 'building', why: `model ${building.version} is being built`, tracks };
  const model = await activeModel(db);
  if (!model) {
    if (tracks === 0) return { decision: 'waiting', why: 'no track is ready for vectors yet', tracks };
    await ctx.enqueue('vectorization.train_model', { reason: 'no model yet' });
    return { decision: 'retrain', why: 'no model yet', tracks };
  }
  const df = await tagDocumentFrequency(db, tracks);
  let total = 0;
  let unseen = 0;
  for (const [key, n] of df) {
    if (n < 2) continue;
    total += n;
    if (!(key in model.params.idf)) unseen += n;
  }
  const newTagShare = total > 0 ? unseen / total : 0;
  const delta = Math.abs(tracks - model.trackCount);
  const trackChange = delta / Math.max(1, model.trackCount);
  const ageDays = (Date.now() - model.createdAt) / 86_400_000;
  const report = { version: model.version, tracks, newTagShare, trackChange, ageDays, signatureChanged: tagSignature(df) !== model.tagSignature };
  let why: string | null = null;
  if (newTagShare >= NEW_TAG_SHARE) why = `new tags or genres: ${(newTagShare * 100).toFixed(1)} % of tag occurrences are unknown to model ${model.version}`;
  else if (trackChange >= TRACK_CHANGE && delta >= MIN_TRACK_CHANGE) why = `the library changed size: ${model.trackCount} → ${tracks} tracks ready`;
  else if (Date.now() - model.createdAt >= MAX_MODEL_AGE_MS) why = `model ${model.version} is ${ageDays.toFixed(0)} days old`;
  if (!why) return { decision: 'none', why: 'the library is close to what the model was fitted on', ...report };
  await ctx.enqueue('vectorization.train_model', { reason: why });
  ctx.log.info(report, `vector model retrain queued: ${why}`);
  return { decision: 'retrain', why, ...report };
}

/** Queues a refit when the library has grown GROWTH_REFIT-fold since `model` was fitted; says why, or null. */
export async function refitWhenGrown(ctx: TaskContext, model: ModelRow): Promise<string | null> {
  const tracks = await countEligible(ctx.db, ctx.services.analysisEnabled);
  if (tracks < GROWTH_REFIT * model.trackCount || tracks - model.trackCount < MIN_TRACK_CHANGE) return null;
  const why = `the library grew from ${model.trackCount} to ${tracks} tracks ready since model ${model.version} was fitted`;
  // one refit per model: the next tick finds the same growth until the new model takes over
  await ctx.enqueue('vectorization.train_model', { reason: why }, { priority: 10, jobId: `refit-grown-v${model.version}` });
  ctx.log.info({ version: model.version, fittedOn: model.trackCount, tracks }, `vector model refit queued: ${why}`);
  return why;
}

export interface ModelHealth {
  active: { version: number; ageDays: number; trackCount: number; vectors: number } | null;
  building: { version: number; vectors: number; of: number } | null;
  readyTracks: number;
  /** share of the ready tracks with a vector of the active model (1 when there is nothing to do) */
  coverage: number;
  missing: number;
  warnings: string[];
}

export async function checkModelHealth(_payload: Record<string, never>, ctx: TaskContext): Promise<ModelHealth> {
  const health = await modelHealth(ctx);
  if (health.warnings.length > 0) ctx.log.warn(health, `vector model health: ${health.warnings.join('; ')}`);
  if (!health.active && !health.building && health.readyTracks > 0) await ctx.enqueue('vectorization.train_model', { reason: 'no model yet' });
  return health;
}

export async function modelHealth(ctx: Pick<TaskContext, 'db' | 'services'>): Promise<ModelHealth> {
  const { db } = ctx;
  const readyTracks = await countEligible(db, ctx.services.analysisEnabled);
  const [active, building] = await Promise.all([activeModel(db), buildingModel(db)]);
  const vectors = active ? await countVectors(db, active.version) : 0;
  const warnings: string[] = [];
  const coverage = readyTracks === 0 ? 1 : Math.min(1, vectors / readyTracks);
  if (!active && readyTracks > 0) warnings.push(building ? `no active model yet (model ${building.version} is being built)` : 'no model: similarity search is off');
  else if (coverage < MIN_COVERAGE) warnings.push(`only ${(coverage * 100).toFixed(1)} % of the ready tracks have a current vector`);
  if (active && Date.now() - active.createdAt > MAX_MODEL_AGE_MS) warnings.push(`model ${active.version} is older than ${MAX_MODEL_AGE_MS / 86_400_000} days`);
  return {
    active: active ? { version: active.version, ageDays: (Date.now() - active.createdAt) / 86_400_000, trackCount: active.trackCount, vectors } : null,
    building: building ? { version: building.version, vectors: await countVectors(db, building.version), of: readyTracks } : null,
    readyTracks,
    coverage,
    missing: Math.max(0, readyTracks - vectors),
    warnings,
  };
}
