// What the vectors are for: "more like this" (similar), a radio from seed tracks (playlist) and a
// smooth transition from one track to another (path). Every answer comes from one model version
// (the active one) and names it; tracks deleted since their vector was written are skipped.
import type { Db } from '../../db/types.js';
import { genreKey } from '../genres/normalize.js';
import type { Neighbour } from './ann_index.js';
import type { LibraryIndex, ServingIndex } from './library_index.js';
import { activeModel, vectorsOf } from './store.js';

export class VectorQueryError extends Error {
  constructor(
    message: string,
    readonly code: 'no_model' | 'unknown_track' | 'no_vector' | 'index_building',
  ) {
    super(message);
    this.name = 'VectorQueryError';
  }
}

export interface SimilarFilters {
  excludeSameArtist?: boolean;
  excludeSameAlbum?: boolean;
  yearMin?: number;
  yearMax?: number;
  bpmMin?: number;
  bpmMax?: number;
  /** a genre name (any spelling): only tracks of that genre */
  genre?: string;
}

/** what a user sees of a track in an answer */
interface TrackSummary {
  title: string;
  artist: string;
  artistId: number;
  albumId: number | null;
  year: number | null;
  bpm: number | null;
}

export interface TrackHit extends TrackSummary {
  trackId: number;
  similarity: number;
}

export interface QueryAnswer {
  version: number;
  tracks: TrackHit[];
}

interface TrackFacts extends TrackSummary {
  id: number;
  /** same song: normalised title + artist (another file of it is not a new track in a playlist) */
  song: string;
}

/** the serving index was of a version retired meanwhile (its vectors are gone): ask again */
class RetiredVersion extends Error {}

/**
 * Runs a query on the serving index; if another version took over while the query ran (the index
 * is checked once a second), it runs again on the new one.
 */
async function onServing<T>(library: LibraryIndex, query: (current: ServingIndex) => Promise<T>): Promise<T> {
  for (let fresh = false; ; fresh = true) {
    const current = await library.current(fresh);
    if (!current) throw new VectorQueryError('no vector model yet: vectors are made once tracks are analysed (soniquebay vectors train)', 'no_model');
    try {
      return await query(current);
    } catch (err) {
      if (!(err instanceof RetiredVersion)) throw err;
      if (fresh) throw new VectorQueryError(`the index of the new model version is being built; version ${current.version} has just been retired`, 'index_building');
    }
  }
}

async function facts(db: Db, ids: readonly number[]): Promise<Map<number, TrackFacts>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('tracks')
    .leftJoin('track_analysis', 'track_analysis.track_id', 'tracks.id')
    .select(['tracks.id', 'tracks.title', 'tracks.artist_display', 'tracks.artist_id', 'tracks.album_id', 'tracks.year', 'tracks.bpm_tag', 'track_analysis.bpm'])
    .where('tracks.id', 'in', [...ids])
    .where('tracks.missing_since', 'is', null) // a missing track (file gone) is never suggested
    .execute();
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        title: r.title,
        artist: r.artist_display,
        artistId: r.artist_id,
        albumId: r.album_id,
        year: r.year,
        bpm: r.bpm ?? r.bpm_tag,
        song: `${genreKey(r.title)}|${r.artist_id}`,
      },
    ]),
  );
}

/** the vectors of these tracks under the serving version; a clear error for an unknown or unvectorised one */
async function seedVectors(db: Db, current: ServingIndex, trackIds: readonly number[]): Promise<Float32Array[]> {
  const vectors = await vectorsOf(db, current.version, trackIds);
  const known = await facts(db, trackIds);
  if (vectors.size < trackIds.length && (await activeModel(db))?.version !== current.version) throw new RetiredVersion();
  return trackIds.map((id) => {
    if (!known.has(id)) throw new VectorQueryError(`track ${id} does not exist (or its file is missing)`, 'unknown_track');
    const v = vectors.get(id);
    if (!v) throw new VectorQueryError(`track ${id} has no vector yet (not analysed, or queued)`, 'no_vector');
    return v;
  });
}

function hit(f: TrackFacts, similarity: number): TrackHit {
  return { trackId: f.id, similarity: Math.round(similarity * 1e4) / 1e4, title: f.title, artist: f.artist, artistId: f.artistId, albumId: f.albumId, year: f.year, bpm: f.bpm };
}

/** The k tracks most like `trackId` that pass the filters (never the track itself). */
export function similar(db: Db, library: LibraryIndex, trackId: number, k: number, filters: SimilarFilters = {}): Promise<QueryAnswer> {
  return onServing(library, (current) => similarOn(db, current, trackId, k, filters));
}

async function similarOn(db: Db, current: ServingIndex, trackId: number, k: number, filters: SimilarFilters): Promise<QueryAnswer> {
  const [query] = await seedVectors(db, current, [trackId]);
  const seed = (await facts(db, [trackId])).get(trackId)!;
  const genreIds = filters.genre ? await tracksOfGenre(db, filters.genre) : null;
  const pass = (f: TrackFacts): boolean =>
    f.id !== trackId &&
    !(filters.excludeSameArtist && f.artistId === seed.artistId) &&
    !(filters.excludeSameAlbum && f.albumId !== null && f.albumId === seed.albumId) &&
    !(filters.yearMin !== undefined && (f.year === null || f.year < filters.yearMin)) &&
    !(filters.yearMax !== undefined && (f.year === null || f.year > filters.yearMax)) &&
    !(filters.bpmMin !== undefined && (f.bpm === null || f.bpm < filters.bpmMin)) &&
    !(filters.bpmMax !== undefined && (f.bpm === null || f.bpm > filters.bpmMax)) &&
    !(genreIds && !genreIds.has(f.id));
  // ask for more than k, and more again while the filters leave too few
  const size = current.index.size();
  let want = Math.min(size, k * 3 + 10);
  for (;;) {
    const found = current.index.search(query!, want);
    const known = await facts(db, found.map((n) => n.trackId));
    const tracks = found.flatMap((n) => {
      const f = known.get(n.trackId);
      return f && pass(f) ? [hit(f, n.similarity)] : [];
    });
    if (tracks.length >= k || want >= size) return { version: current.version, tracks: tracks.slice(0, k) };
    want = Math.min(size, want * 4);
  }
}

async function tracksOfGenre(db: Db, genre: string): Promise<Set<number>> {
  const key = genreKey(genre);
  const rows = await db.selectFrom('track_genres').innerJoin('genres', 'genres.id', 'track_genres.genre_id').select('track_genres.track_id').where('genres.name_key', '=', key).execute();
  return new Set(rows.map((r) => r.track_id));
}

/** how many tracks of one artist may follow each other in a playlist: none */
const ARTIST_GAP = 2;

/**
 * A radio from seed tracks: the seeds first, then tracks close to the seeds' centroid and to the
 * track before them (0.6 / 0.4), never a track or song twice, never the same artist within
 * ARTIST_GAP tracks (relaxed only when nothing else is left).
 */
export function playlist(db: Db, library: LibraryIndex, seedIds: readonly number[], length: number): Promise<QueryAnswer> {
  return onServing(library, (current) => playlistOn(db, current, seedIds, length));
}

async function playlistOn(db: Db, current: ServingIndex, seedIds: readonly number[], length: number): Promise<QueryAnswer> {
  const seeds = await seedVectors(db, current, seedIds);
  const centroid = normalised(sum(seeds, current.dimension));
  const poolSize = Math.min(current.index.size(), Math.max(200, length * 8));
  const candidates = new Map<number, Neighbour>();
  for (const q of [centroid, ...seeds]) for (const n of current.index.search(q, poolSize)) candidates.set(n.trackId, n);
  const known = await facts(db, [...new Set([...seedIds, ...candidates.keys()])]);
  const vectors = await vectorsOf(db, current.version, [...candidates.keys()]);

  const chosen: TrackHit[] = [];
  const used = new Set<number>();
  const songs = new Set<string>();
  for (const [i, id] of seedIds.entries()) {
    const f = known.get(id)!;
    if (used.has(id)) continue;
    chosen.push(hit(f, dot(seeds[i]!, centroid)));
    used.add(id);
    songs.add(f.song);
  }
  let last = seeds[seeds.length - 1]!;
  while (chosen.length < length) {
    const next = pick(candidates.keys(), known, vectors, used, songs, chosen, (v) => 0.6 * dot(v, centroid) + 0.4 * dot(v, last));
    if (!next) break;
    chosen.push(hit(next.facts, dot(next.vector, centroid)));
    used.add(next.facts.id);
    songs.add(next.facts.song);
    last = next.vector;
  }
  return { version: current.version, tracks: chosen };
}

/**
 * A smooth path from one track to another: `length` tracks, the first and the last given, the
 * others the nearest unused tracks to evenly spaced points on the way between the two vectors
 * (spherical interpolation), with the same artist and repeat rules as a playlist.
 */
export function path(db: Db, library: LibraryIndex, fromId: number, toId: number, length: number): Promise<QueryAnswer> {
  return onServing(library, (current) => pathOn(db, current, fromId, toId, length));
}

async function pathOn(db: Db, current: ServingIndex, fromId: number, toId: number, length: number): Promise<QueryAnswer> {
  const [a, b] = await seedVectors(db, current, [fromId, toId]);
  const steps = Math.max(2, length);
  const waypoints = Array.from({ length: steps - 2 }, (_, i) => slerp(a!, b!, (i + 1) / (steps - 1)));
  const candidates = new Set<number>();
  const per = Math.min(current.index.size(), 60);
  for (const w of waypoints) for (const n of current.index.search(w, per)) candidates.add(n.trackId);
  const known = await facts(db, [...new Set([fromId, toId, ...candidates])]);
  const vectors = await vectorsOf(db, current.version, [...candidates]);
  const end = known.get(toId)!;
  const chosen: TrackHit[] = [hit(known.get(fromId)!, 1)];
  const used = new Set([fromId, toId]);
  const songs = new Set([known.get(fromId)!.song, end.song]);
  for (const w of waypoints) {
    const next = pick(candidates, known, vectors, used, songs, chosen, (v) => dot(v, w));
    if (!next) break;
    chosen.push(hit(next.facts, dot(next.vector, a!)));
    used.add(next.facts.id);
    songs.add(next.facts.song);
  }
  chosen.push(hit(end, dot(b!, a!)));
  return { version: current.version, tracks: chosen };
}

/** the best-scoring usable candidate: unused, a new song, no artist of the last ARTIST_GAP tracks if possible */
function pick(
  ids: Iterable<number>,
  known: Map<number, TrackFacts>,
  vectors: Map<number, Float32Array>,
  used: Set<number>,
  songs: Set<string>,
  chosen: TrackHit[],
  score: (v: Float32Array) => number,
): { facts: TrackFacts; vector: Float32Array } | null {
  const recent = new Set(chosen.slice(-ARTIST_GAP).map((t) => t.artistId));
  type Scored = { facts: TrackFacts; vector: Float32Array; score: number };
  let best: Scored | null = null;
  let fallback: Scored | null = null;
  for (const id of ids) {
    const f = known.get(id);
    const v = vectors.get(id);
    if (!f || !v || used.has(id) || songs.has(f.song)) continue;
    const s = score(v);
    if (recent.has(f.artistId)) {
      if (!fallback || s > fallback.score) fallback = { facts: f, vector: v, score: s };
    } else if (!best || s > best.score) best = { facts: f, vector: v, score: s };
  }
  return best ?? fallback;
}

function sum(vectors: readonly Float32Array[], dimension: number): Float32Array {
  const out = new Float32Array(dimension);
  for (const v of vectors) for (let i = 0; i < dimension; i++) out[i]! += v[i]!;
  return out;
}

function normalised(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return n > 0 ? v.map((x) => x / n) : v;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** the unit vector a fraction t of the way from a to b along the great circle */
function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const cos = Math.min(1, Math.max(-1, dot(a, b)));
  const omega = Math.acos(cos);
  if (omega < 1e-6) return a;
  const sa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const sb = Math.sin(t * omega) / Math.sin(omega);
  return normalised(a.map((x, i) => sa * x + sb * b[i]!));
}

