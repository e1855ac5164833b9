// The in-memory nearest-neighbour index of one model version's vectors (cosine similarity on unit
// vectors). Below EXACT_BELOW vectors the search is exact (a scan of a packed Float32Array: a few
// milliseconds at that size, and always right); above, an HNSW graph (usearch) answers in well
// under a millisecond with recall ≥ 0.95 (docs/benchmarks.md, bench:vectors). Keys are track ids.
import type { Index } from 'usearch';
import { lazyRequire } from '../../utils/lazy.js';

const usearch = lazyRequire<typeof import('usearch')>('usearch');

export const EXACT_BELOW = 20_000;
/** HNSW parameters (see bench:vectors): graph degree, and the candidate lists when adding and searching */
export const HNSW = { connectivity: 16, expansionAdd: 128, expansionSearch: 128 } as const;

export interface Neighbour {
  trackId: number;
  /** cosine similarity, 1 = same direction */
  similarity: number;
}

export interface VectorIndex {
  readonly kind: 'exact' | 'hnsw';
  size(): number;
  /** adds or replaces the vector of a track */
  upsert(trackId: number, vector: Float32Array): void;
  remove(trackId: number): void;
  /** the k nearest, most similar first */
  search(query: Float32Array, k: number): Neighbour[];
  /** writes the index to a file (HNSW only; an exact index is rebuilt from the database) */
  save?(file: string): void;
}

export function createIndex(dimension: number, expectedSize: number, exactBelow = EXACT_BELOW): VectorIndex {
  return expectedSize < exactBelow ? new ExactIndex(dimension) : new HnswIndex(dimension);
}

/** A packed array of vectors, scanned in full for each query. */
export class ExactIndex implements VectorIndex {
  readonly kind = 'exact';
  private ids = new Float64Array(1024);
  private data: Float32Array;
  private readonly slots = new Map<number, number>();
  private count = 0;

  constructor(private readonly dimension: number) {
    this.data = new Float32Array(1024 * dimension);
  }

  size(): number {
    return this.count;
  }

  upsert(trackId: number, vector: Float32Array): void {
    let slot = this.slots.get(trackId);
    if (slot === undefined) {
      if (this.count === this.ids.length) this.grow();
      slot = this.count++;
      this.slots.set(trackId, slot);
      this.ids[slot] = trackId;
    }
    this.data.set(vector.subarray(0, this.dimension), slot * this.dimension);
  }

  remove(trackId: number): void {
    const slot = this.slots.get(trackId);
    if (slot === undefined) return;
    const last = --this.count;
    if (slot !== last) {
      // the last vector takes the freed slot
      const moved = this.ids[last]!;
      this.ids[slot] = moved;
      this.data.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.slots.set(moved, slot);
    }
    this.slots.delete(trackId);
  }

  search(query: Float32Array, k: number): Neighbour[] {
    const d = this.dimension;
    const n = this.count;
    const want = Math.min(k, n);
    if (want <= 0) return [];
    // the best `want` so far, kept sorted (k is small next to n)
    const bestIds = new Float64Array(want);
    const bestSims = new Float64Array(want).fill(-Infinity);
    const data = this.data;
    for (let s = 0; s < n; s++) {
      let dot = 0;
      const base = s * d;
      for (let i = 0; i < d; i++) dot += data[base + i]! * query[i]!;
      if (dot <= bestSims[want - 1]!) continue;
      let j = want - 1;
      while (j > 0 && bestSims[j - 1]! < dot) {
        bestSims[j] = bestSims[j - 1]!;
        bestIds[j] = bestIds[j - 1]!;
        j--;
      }
      bestSims[j] = dot;
      bestIds[j] = this.ids[s]!;
    }
    return Array.from(bestIds, (trackId, i) => ({ trackId, similarity: bestSims[i]! }));
  }

  private grow(): void {
    const ids = new Float64Array(this.ids.length * 2);
    ids.set(this.ids);
    const data = new Float32Array(this.data.length * 2);
    data.set(this.data);
    this.ids = ids;
    this.data = data;
  }
}

/** usearch's HNSW graph; `remove` leaves a tombstone that usearch skips. */
export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw';
  private readonly index: Index;

  constructor(dimension: number, file?: string) {
    const { Index: UsearchIndex, MetricKind, ScalarKind } = usearch();
    this.index = new UsearchIndex({
      metric: MetricKind.Cos,
      quantization: ScalarKind.F32,
      multi: false,
      dimensions: dimension,
      connectivity: HNSW.connectivity,
      expansion_add: HNSW.expansionAdd,
      expansion_search: HNSW.expansionSearch,
    });
    if (file) this.index.load(file);
  }

  size(): number {
    return this.index.size();
  }

  upsert(trackId: number, vector: Float32Array): void {
    // usearch ranks a NaN vector first for every query: such a vector is never added
    if (!vector.every(Number.isFinite)) return;
    const key = BigInt(trackId);
    if (this.index.contains(key)) this.index.remove(key);
    this.index.add(key, vector);
  }

  /** many new vectors at once, added by usearch's own threads */
  addMany(trackIds: readonly number[], vectors: Float32Array): void {
    if (trackIds.length > 0) this.index.add(BigUint64Array.from(trackIds, (id) => BigInt(id)), vectors, 0);
  }

  remove(trackId: number): void {
    const key = BigInt(trackId);
    if (this.index.contains(key)) this.index.remove(key);
  }

  search(query: Float32Array, k: number): Neighbour[] {
    const want = Math.min(k, this.index.size());
    if (want <= 0) return [];
    const found = this.index.search(query, want, 0);
    // usearch gives the cosine distance, 1 − similarity
    return Array.from(found.keys, (key, i) => ({ trackId: Number(key), similarity: 1 - found.distances[i]! }));
  }

  save(file: string): void {
    this.index.save(file);
  }
}
