// What a track's vector is made from: its analysis (or, when analysis is off, the BPM and key of
// its tags), its genres with their taxonomy parents, and its tags; read from the database in
// batches, never the whole library at once.
import { sql } from 'kysely';
import type { Db } from '../../db/types.js';
import { ANALYSIS_VERSION } from '../analysis/analyse_file.js';

export interface AnalysisInput {
  bpm: number | null;
  bpmConfidence: number | null;
  key: string | null;
  scale: string | null;
  keyConfidence: number | null;
  lufs: number | null;
  energy: number | null;
  danceability: number | null;
  /** the spectral summary of features.ts, as stored (JSON) */
  features: SpectralJson | null;
}

export interface SpectralJson {
  zcr?: { mean: number };
  centroid?: { mean: number };
  rolloff?: { mean: number };
  flatness?: { mean: number };
  contrast?: { mean: number[] };
  mfcc?: { mean: number[] };
}

export interface VectorInput {
  trackId: number;
  bpmTag: number | null;
  keyTag: string | null;
  analysis: AnalysisInput | null;
  /** canonical genre names */
  genres: string[];
  /** enrichment tags (moods, genre tags, Last.fm tags), weight 0–1 when the source gives one */
  tags: { kind: string; name: string; weight: number | null }[];
}

/** tracks a vector can be made for: analysed with the current method, or any track when analysis is off */
export function eligibleTracks(db: Db, analysisEnabled: boolean) {
  let query = db.selectFrom('tracks').select('tracks.id');
  if (analysisEnabled) {
    query = query.innerJoin('track_analysis', 'track_analysis.track_id', 'tracks.id').where('track_analysis.version', '=', ANALYSIS_VERSION);
  }
  return query;
}

/**
 * A page of eligible track ids after `afterId`, in id order. With analysis on, the page walks the
 * analysed tracks (the same ids): walking every track for the few analysed ones of a library
 * whose analysis has just begun took 0.5 s per page at a million tracks, on the event loop.
 */
export async function eligibleTrackIds(db: Db, analysisEnabled: boolean, afterId: number, limit: number): Promise<number[]> {
  const id = sql.ref<number>(analysisEnabled ? 'track_analysis.track_id' : 'tracks.id');
  const rows = await eligibleTracks(db, analysisEnabled).where(id, '>', afterId).orderBy(id).limit(limit).execute();
  return rows.map((r) => r.id);
}

/** ready tracks that have no vector for model `version` yet, in id order */
export async function missingVectors(db: Db, analysisEnabled: boolean, version: number, limit: number): Promise<number[]> {
  const rows = await eligibleTracks(db, analysisEnabled)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('track_vectors').select('track_vectors.track_id').whereRef('track_vectors.track_id', '=', 'tracks.id').where('track_vectors.model_version', '=', version))))
    .orderBy('tracks.id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function countEligible(db: Db, analysisEnabled: boolean): Promise<number> {
  const row = await db
    .selectFrom(eligibleTracks(db, analysisEnabled).as('e'))
    .select(sql<number>`count(*)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** the inputs of these tracks (those that still exist), in the order of `trackIds` */
export async function loadInputs(db: Db, trackIds: readonly number[]): Promise<VectorInput[]> {
  if (trackIds.length === 0) return [];
  const ids = [...trackIds];
  const [tracks, genres, tags] = await Promise.all([
    db
      .selectFrom('tracks')
      .leftJoin('track_analysis', (join) => join.onRef('track_analysis.track_id', '=', 'tracks.id').on('track_analysis.version', '=', ANALYSIS_VERSION))
      .select([
        'tracks.id',
        'tracks.bpm_tag',
        'tracks.key_tag',
        'track_analysis.track_id as analysed',
        'track_analysis.bpm',
        'track_analysis.bpm_confidence',
        'track_analysis.key',
        'track_analysis.scale',
        'track_analysis.key_confidence',
        'track_analysis.lufs',
        'track_analysis.energy',
        'track_analysis.danceability',
        'track_analysis.features',
      ])
      .where('tracks.id', 'in', ids)
      .execute(),
    db.selectFrom('track_genres').innerJoin('genres', 'genres.id', 'track_genres.genre_id').select(['track_genres.track_id', 'genres.name']).where('track_genres.track_id', 'in', ids).execute(),
    db.selectFrom('track_tags').innerJoin('tags', 'tags.id', 'track_tags.tag_id').select(['track_tags.track_id', 'tags.kind', 'tags.name', 'track_tags.weight']).where('track_tags.track_id', 'in', ids).execute(),
  ]);
  const byId = new Map<number, VectorInput>();
  for (const t of tracks) {
    byId.set(t.id, {
      trackId: t.id,
      bpmTag: t.bpm_tag,
      keyTag: t.key_tag,
      analysis:
        t.analysed === null
          ? null
          : {
              bpm: t.bpm,
              bpmConfidence: t.bpm_confidence,
              key: t.key,
              scale: t.scale,
              keyConfidence: t.key_confidence,
              lufs: t.lufs,
              energy: t.energy,
              danceability: t.danceability,
              features: parseFeatures(t.features),
            },
      genres: [],
      tags: [],
    });
  }
  for (const g of genres) byId.get(g.track_id)?.genres.push(g.name);
  for (const t of tags) byId.get(t.track_id)?.tags.push({ kind: t.kind, name: t.name, weight: t.weight });
  return ids.flatMap((id) => byId.get(id) ?? []);
}

function parseFeatures(json: string | null): SpectralJson | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as SpectralJson;
  } catch {
    return null;
  }
}
