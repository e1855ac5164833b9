// The feature model: turns a track's inputs into one L2-normalised float32 vector of
// VECTOR_DIMENSION values, so that cosine similarity (a dot product) says how alike two tracks
// sound and are tagged. Fitted on the library (robust scaling, tag IDF), versioned, and stored as
// JSON with the model row; the same parameters always give the same vector.
//
// Layout (48 values), in groups, each group scaled so that its share of the vector's length is
// its weight (dims · (w / √n)²  = w²):
//   timbre    24  MFCC means 0–12, spectral contrast means (7), centroid, rolloff, flatness, ZCR
//   rhythm     3  log2(BPM), BPM confidence, danceability
//   tonality   3  key on the circle of fifths (cos, sin) and mode (+1 major, −1 minor), × confidence
//   loudness   2  integrated loudness (LUFS), energy
//   tags      16  genres (with their taxonomy parents at half weight per level), moods and tags:
//                 each name hashed to a fixed pseudo-random unit direction (random indexing),
//                 weighted by its IDF over the library and its tag weight; the sum normalised
// The numeric values (timbre, rhythm, loudness) are scaled robustly: (x − median) / (IQR / 1.349)
// with medians and IQRs fitted on up to FIT_SAMPLE tracks of the library, clipped to ±4; a
// missing value counts as the median (0). A library of one track gives unit scales.
import { createHash } from 'node:crypto';
import { genreAncestors, genreKey } from '../genres/normalize.js';
import type { VectorInput } from './inputs.js';

export const VECTOR_DIMENSION = 48;
/** bump when the layout or the arithmetic changes (a model's params record the one it used) */
export const FEATURE_LAYOUT = 1;
export const FIT_SAMPLE = 20_000;

export const GROUPS = [
  { name: 'timbre', dims: 24, weight: 1.0 },
  { name: 'rhythm', dims: 3, weight: 0.7 },
  { name: 'tonality', dims: 3, weight: 0.5 },
  { name: 'loudness', dims: 2, weight: 0.4 },
  { name: 'tags', dims: 16, weight: 0.8 },
] as const;
export type GroupName = (typeof GROUPS)[number]['name'];

/** the robustly scaled values: timbre, rhythm, loudness (tonality and tags are bounded already) */
const SCALED = 24 + 3 + 2;
const TAG_DIMS = 16;
const CLIP = 4;
const PARENT_DECAY = 0.5;
const NOTE_INDEX: Record<string, number> = { C: 0, 'C#': 1, DB: 1, D: 2, 'D#': 3, EB: 3, E: 4, F: 5, 'F#': 6, GB: 6, G: 7, 'G#': 8, AB: 8, A: 9, 'A#': 10, BB: 10, B: 11 };

export interface ModelParams {
  layout: number;
  dimension: number;
  weights: Record<GroupName, number>;
  medians: number[];
  scales: number[];
  /** IDF per tag key (`genre:rock`, `mood:happy`, …) over the library; unseen keys get `unseenIdf` */
  idf: Record<string, number>;
  unseenIdf: number;
  trackCount: number;
}

/** the numeric values that get robust scaling, NaN when unknown */
export function numericFeatures(input: VectorInput): Float64Array {
  const out = new Float64Array(SCALED).fill(Number.NaN);
  const a = input.analysis;
  const f = a?.features;
  if (f) {
    f.mfcc?.mean.slice(0, 13).forEach((v, i) => (out[i] = v));
    f.contrast?.mean.slice(0, 7).forEach((v, i) => (out[13 + i] = v));
    out[20] = f.centroid?.mean ?? Number.NaN;
    out[21] = f.rolloff?.mean ?? Number.NaN;
    out[22] = f.flatness?.mean ?? Number.NaN;
    out[23] = f.zcr?.mean ?? Number.NaN;
  }
  const bpm = a?.bpm ?? input.bpmTag;
  out[24] = bpm && bpm > 0 ? Math.log2(bpm) : Number.NaN;
  out[25] = a ? (a.bpmConfidence ?? Number.NaN) : Number.NaN;
  out[26] = a?.danceability ?? Number.NaN;
  out[27] = a?.lufs ?? Number.NaN;
  out[28] = a?.energy ?? Number.NaN;
  return out;
}

/** key and mode as a point near the circle of fifths: related keys (C, G, Am) lie close together */
export function tonality(input: VectorInput): [number, number, number] {
  const a = input.analysis;
  let key = a?.key ?? null;
  let scale = a?.scale ?? null;
  let confidence = a ? Math.min(1, Math.max(0, (a.keyConfidence ?? 0) * 4)) : 0;
  if (!key && input.keyTag) {
    // a tagged key: "Am", "F#m", "C", "Eb minor", …
    const m = /^\s*([A-Ga-g])([#b♯♭]?)\s*(m|min|minor|maj|major)?\s*$/i.exec(input.keyTag);
    if (m) {
      key = m[1]!.toUpperCase() + (m[2] === '♯' ? '#' : m[2] === '♭' ? 'b' : (m[2] ?? ''));
      scale = m[3] && /^m(in(or)?)?$/i.test(m[3]) ? 'minor' : 'major';
      confidence = 0.5;
    }
  }
  const note = key ? NOTE_INDEX[key.toUpperCase()] : undefined;
  if (note === undefined || confidence === 0) return [0, 0, 0];
  const minor = scale === 'minor';
  // a minor key sits at its relative major's place (A minor beside C major)
  const tonic = minor ? (note + 3) % 12 : note;
  const angle = (2 * Math.PI * ((tonic * 7) % 12)) / 12;
  return [Math.cos(angle) * confidence, Math.sin(angle) * confidence, (minor ? -1 : 1) * confidence];
}

/** the weighted tag keys of a track: its genres and their parents, its tags */
export function tagTerms(input: VectorInput): Map<string, number> {
  const terms = new Map<string, number>();
  const add = (key: string, weight: number) => terms.set(key, Math.max(terms.get(key) ?? 0, weight));
  for (const genre of input.genres) {
    add(`genre:${genreKey(genre)}`, 1);
    genreAncestors(genre).forEach((parent, depth) => add(`genre:${genreKey(parent)}`, PARENT_DECAY ** (depth + 1)));
  }
  for (const tag of input.tags) {
    const kind = tag.kind === 'genre' ? 'genre' : tag.kind;
    add(`${kind}:${genreKey(tag.name)}`, tag.weight === null ? 1 : Math.min(1, Math.max(0, tag.weight)));
  }
  return terms;
}

/** a fixed pseudo-random unit direction per tag key (the same on every machine and run) */
const directions = new Map<string, Float64Array>();
function directionOf(key: string): Float64Array {
  let d = directions.get(key);
  if (d) return d;
  const bytes = createHash('sha256').update(key).digest();
  d = new Float64Array(TAG_DIMS);
  let norm = 0;
  for (let i = 0; i < TAG_DIMS; i++) {
    // two bytes per value, centred: uniform in [−1, 1)
    d[i] = (bytes.readUInt16LE(i * 2) - 32_768) / 32_768;
    norm += d[i]! * d[i]!;
  }
  for (let i = 0; i < TAG_DIMS; i++) d[i]! /= Math.sqrt(norm) || 1;
  if (directions.size > 50_000) directions.clear();
  directions.set(key, d);
  return d;
}

/**
 * Fits the model: medians and IQRs of the numeric values over `sample` (a uniform sample of the
 * library's eligible tracks), IDF of every tag key from its document frequency `tagDf` over the
 * whole library of `trackCount` tracks.
 */
export function fitModel(sample: readonly VectorInput[], tagDf: ReadonlyMap<string, number>, trackCount: number): ModelParams {
  const columns = Array.from({ length: SCALED }, () => [] as number[]);
  for (const input of sample) {
    const values = numericFeatures(input);
    for (let i = 0; i < SCALED; i++) if (Number.isFinite(values[i])) columns[i]!.push(values[i]!);
  }
  const medians: number[] = [];
  const scales: number[] = [];
  for (const column of columns) {
    column.sort((a, b) => a - b);
    const median = quantile(column, 0.5);
    const iqr = quantile(column, 0.75) - quantile(column, 0.25);
    let scale = iqr / 1.349;
    if (!(scale > 1e-9)) scale = standardDeviation(column, median);
    if (!(scale > 1e-9)) scale = 1;
    medians.push(median);
    scales.push(scale);
  }
  const n = Math.max(1, trackCount);
  const idf: Record<string, number> = {};
  for (const [key, df] of tagDf) idf[key] = Math.log((n + 1) / (df + 1)) + 1;
  return {
    layout: FEATURE_LAYOUT,
    dimension: VECTOR_DIMENSION,
    weights: Object.fromEntries(GROUPS.map((g) => [g.name, g.weight])) as Record<GroupName, number>,
    medians,
    scales,
    idf,
    unseenIdf: Math.log(n + 1) + 1,
    trackCount,
  };
}

/** the vector of one track under a model: VECTOR_DIMENSION float32 values, unit length */
export function vectorize(params: ModelParams, input: VectorInput): Float32Array {
  const v = new Float64Array(VECTOR_DIMENSION);
  const numeric = numericFeatures(input);
  for (let i = 0; i < SCALED; i++) {
    const x = numeric[i]!;
    v[i < 24 ? i : i < 27 ? i : i + 3] = Number.isFinite(x) ? clip((x - params.medians[i]!) / params.scales[i]!) : 0;
  }
  const [c, s, mode] = tonality(input);
  v[27] = c;
  v[28] = s;
  v[29] = mode;
  // v[30], v[31]: loudness (placed above); v[32…47]: tags
  const tags = new Float64Array(TAG_DIMS);
  for (const [key, weight] of tagTerms(input)) {
    const d = directionOf(key);
    const w = weight * (params.idf[key] ?? params.unseenIdf);
    for (let i = 0; i < TAG_DIMS; i++) tags[i]! += w * d[i]!;
  }
  const tagNorm = Math.hypot(...tags);
  if (tagNorm > 0) for (let i = 0; i < TAG_DIMS; i++) v[32 + i] = (tags[i]! / tagNorm) * Math.sqrt(TAG_DIMS);

  // group weights: each group's share of the length is its weight
  let offset = 0;
  for (const g of GROUPS) {
    const factor = params.weights[g.name] / Math.sqrt(g.dims);
    for (let i = offset; i < offset + g.dims; i++) v[i]! *= factor;
    offset += g.dims;
  }
  const norm = Math.hypot(...v);
  // a track exactly at the library's median with no key and no tags (the only track of a library
  // of one, say) has nothing to point at: it gets the one fixed "average track" direction
  if (!(norm > 1e-12)) return new Float32Array(VECTOR_DIMENSION).fill(1 / Math.sqrt(VECTOR_DIMENSION));
  const out = new Float32Array(VECTOR_DIMENSION);
  for (let i = 0; i < VECTOR_DIMENSION; i++) out[i] = v[i]! / norm;
  return out;
}

/** a short hash of the library's tag vocabulary (keys seen on at least two tracks) */
export function tagSignature(tagDf: ReadonlyMap<string, number>): string {
  const keys = [...tagDf].filter(([, df]) => df >= 2).map(([k]) => k).sort();
  return createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 32);
}

/** little-endian float32 bytes (a Buffer: both database drivers bind it as a blob) */
export function vectorToBytes(v: Float32Array): Buffer {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes;
}

export function vectorFromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function clip(x: number): number {
  return x > CLIP ? CLIP : x < -CLIP ? -CLIP : x;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function standardDeviation(values: readonly number[], centre: number): number {
  if (values.length < 2) return 0;
  let s = 0;
  for (const v of values) s += (v - centre) ** 2;
  return Math.sqrt(s / (values.length - 1));
}
