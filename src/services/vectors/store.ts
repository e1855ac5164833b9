// Models and vectors in the database: which model serves queries (the newest 'active' one), which
// one is being filled in ('building'), the library's tag vocabulary, and vector reads and writes.
import { sql } from 'kysely';
import type { Db, VectorModelTable } from '../../db/types.js';
import { genreAncestors, genreKey } from '../genres/normalize.js';
import { loadInputs } from './inputs.js';
import { vectorFromBytes, vectorize, vectorToBytes, type ModelParams } from './model.js';

export interface ModelRow {
  version: number;
  status: VectorModelTable['status'];
  dimension: number;
  reason: string;
  params: ModelParams;
  trackCount: number;
  tagSignature: string;
  trainingMs: number;
  createdAt: number;
  activatedAt: number | null;
}

function toModel(row: Omit<VectorModelTable, 'version'> & { version: number }): ModelRow {
  return {
    version: row.version,
    status: row.status,
    dimension: row.dimension,
    reason: row.reason,
    params: JSON.parse(row.params) as ModelParams,
    trackCount: Number(row.track_count),
    tagSignature: row.tag_signature,
    trainingMs: Number(row.training_ms),
    createdAt: Number(row.created_at),
    activatedAt: row.activated_at === null ? null : Number(row.activated_at),
  };
}

/** the model that serves queries: the newest active one */
export async function activeModel(db: Db): Promise<ModelRow | null> {
  const row = await db.selectFrom('vector_models').selectAll().where('status', '=', 'active').orderBy('version', 'desc').limit(1).executeTakeFirst();
  return row ? toModel(row) : null;
}

/** the newest model being filled in, if any */
export async function buildingModel(db: Db): Promise<ModelRow | null> {
  const row = await db.selectFrom('vector_models').selectAll().where('status', '=', 'building').orderBy('version', 'desc').limit(1).executeTakeFirst();
  return row ? toModel(row) : null;
}

export async function modelByVersion(db: Db, version: number): Promise<ModelRow | null> {
  const row = await db.selectFrom('vector_models').selectAll().where('version', '=', version).executeTakeFirst();
  return row ? toModel(row) : null;
}

/** models vectors are written for: the active one and the one being built (so a switch misses nothing) */
export async function liveModels(db: Db): Promise<ModelRow[]> {
  const rows = await db.selectFrom('vector_models').selectAll().where('status', 'in', ['active', 'building']).orderBy('version', 'desc').execute();
  const models = rows.map(toModel);
  const active = models.find((m) => m.status === 'active');
  const building = models.find((m) => m.status === 'building');
  return [active, building].filter((m): m is ModelRow => m !== undefined);
}

/** tracks counted per statement: each a short stall of an embedded API's event loop, not one long one */
const COUNT_SPAN = 50_000;

/** How many tracks carry each genre (`link` track_genres) or tag (track_tags), by its id. */
async function countLinks(db: Db, link: 'track_genres' | 'track_tags'): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  const last = Number((await db.selectFrom('tracks').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst())?.id ?? 0);
  for (let from = 0; from < last; from += COUNT_SPAN) {
    // SQLite counted a million tracks' genres in one statement, 285-437 ms with the API waiting
    const rows =
      link === 'track_genres'
        ? await db.selectFrom('track_genres').select(['genre_id as id', sql<number>`count(*)`.as('n')]).where('track_id', '>', from).where('track_id', '<=', from + COUNT_SPAN).groupBy('genre_id').execute()
        : await db.selectFrom('track_tags').select(['tag_id as id', sql<number>`count(*)`.as('n')]).where('track_id', '>', from).where('track_id', '<=', from + COUNT_SPAN).groupBy('tag_id').execute();
    for (const row of rows) counts.set(Number(row.id), (counts.get(Number(row.id)) ?? 0) + Number(row.n));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return counts;
}

/**
 * Document frequency of every tag key over the library: direct genres and tags counted in SQL,
 * each genre's count also credited to its taxonomy parents (an upper bound when a track carries
 * two children of one parent), capped at the track count.
 */
export async function tagDocumentFrequency(db: Db, trackCount: number): Promise<Map<string, number>> {
  const genreCounts = await countLinks(db, 'track_genres');
  const tagCounts = await countLinks(db, 'track_tags');
  const genres = genreCounts.size > 0 ? await db.selectFrom('genres').select(['id', 'name']).execute() : [];
  const tags = tagCounts.size > 0 ? await db.selectFrom('tags').select(['id', 'kind', 'name']).execute() : [];
  const df = new Map<string, number>();
  const add = (key: string, n: number) => df.set(key, Math.min(trackCount, (df.get(key) ?? 0) + n));
  for (const g of genres) {
    const n = genreCounts.get(g.id);
    if (!n) continue;
    add(`genre:${genreKey(g.name)}`, n);
    for (const parent of genreAncestors(g.name)) add(`genre:${genreKey(parent)}`, n);
  }
  for (const t of tags) {
    const n = tagCounts.get(t.id);
    if (n) add(`${t.kind === 'genre' ? 'genre' : t.kind}:${genreKey(t.name)}`, n);
  }
  return df;
}

/** computes and stores the vectors of these tracks under `model`; returns how many were written */
export async function writeVectors(db: Db, model: ModelRow, trackIds: readonly number[]): Promise<number> {
  const inputs = await loadInputs(db, trackIds);
  if (inputs.length === 0) return 0;
  const now = Date.now();
  const rows = inputs.map((input) => ({
    track_id: input.trackId,
    model_version: model.version,
    vector: vectorToBytes(vectorize(model.params, input)),
    updated_at: now,
  }));
  await db
    .insertInto('track_vectors')
    .values(rows)
    .onConflict((oc) => oc.columns(['model_version', 'track_id']).doUpdateSet((eb) => ({ vector: eb.ref('excluded.vector'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
  return rows.length;
}

export async function vectorOf(db: Db, version: number, trackId: number): Promise<Float32Array | null> {
  const row = await db.selectFrom('track_vectors').select('vector').where('model_version', '=', version).where('track_id', '=', trackId).executeTakeFirst();
  return row ? vectorFromBytes(row.vector) : null;
}

export async function vectorsOf(db: Db, version: number, trackIds: readonly number[]): Promise<Map<number, Float32Array>> {
  if (trackIds.length === 0) return new Map();
  const rows = await db.selectFrom('track_vectors').select(['track_id', 'vector']).where('model_version', '=', version).where('track_id', 'in', [...trackIds]).execute();
  return new Map(rows.map((r) => [Number(r.track_id), vectorFromBytes(r.vector)]));
}

export async function countVectors(db: Db, version: number): Promise<number> {
  const row = await db.selectFrom('track_vectors').select(sql<number>`count(*)`.as('n')).where('model_version', '=', version).executeTakeFirstOrThrow();
  return Number(row.n);
}
