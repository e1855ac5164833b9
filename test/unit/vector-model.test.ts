import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seededRandom } from '../../scripts/random.js';
import { ExactIndex, HnswIndex } from '../../src/services/vectors/ann_index.js';
import type { VectorInput } from '../../src/services/vectors/inputs.js';
import { fitModel, tonality, vectorFromBytes, vectorize, vectorToBytes, VECTOR_DIMENSION } from '../../src/services/vectors/model.js';

const random = seededRandom(11);
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/** a track of a tempo/timbre family, with no tags at all: only the audio features can group it */
function audioOnly(id: number, family: number): VectorInput {
  const mfcc = Array.from({ length: 13 }, (_, i) => Math.sin(family * 3.1 + i) * 25 + gauss() * 6);
  return {
    trackId: id,
    bpmTag: null,
    keyTag: null,
    genres: [],
    tags: [],
    analysis: {
      bpm: [75, 100, 128, 174][family]! * (1 + gauss() * 0.02),
      bpmConfidence: 0.5 + gauss() * 0.05,
      key: null,
      scale: null,
      keyConfidence: 0,
      lufs: -20 + family * 3 + gauss(),
      energy: 0.3 + family * 0.1 + gauss() * 0.05,
      danceability: 0.2 + family * 0.15 + gauss() * 0.05,
      features: {
        mfcc: { mean: mfcc },
        contrast: { mean: Array.from({ length: 7 }, (_, i) => 18 + Math.cos(family + i) * 4 + gauss()) },
        centroid: { mean: 900 + family * 700 + gauss() * 150 },
        rolloff: { mean: 2500 + family * 1500 + gauss() * 300 },
        flatness: { mean: 0.1 + family * 0.04 + gauss() * 0.02 },
        zcr: { mean: 0.04 + family * 0.02 + gauss() * 0.005 },
      },
    },
  };
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('feature model', () => {
  it('groups tracks of one tempo/timbre family from their audio features alone (precision@10 >= 0.9)', () => {
    const inputs = Array.from({ length: 200 }, (_, i) => audioOnly(i + 1, i % 4));
    const model = fitModel(inputs, new Map(), inputs.length);
    const index = new ExactIndex(VECTOR_DIMENSION);
    const vectors = inputs.map((input) => vectorize(model, input));
    vectors.forEach((v, i) => index.upsert(i + 1, v));
    let same = 0;
    for (const [i, v] of vectors.entries()) {
      const found = index.search(v, 11);
      assert.equal(found[0]!.trackId, i + 1, 'a track is its own nearest neighbour');
      same += found.slice(1).filter((n) => (n.trackId - 1) % 4 === i % 4).length;
    }
    const precision = same / (vectors.length * 10);
    assert.ok(precision >= 0.9, `precision@10 ${precision.toFixed(3)}`);
  });

  it('works from one track: no NaN, a unit vector, and tags alone when the analysis is missing', () => {
    const one = audioOnly(1, 0);
    const model = fitModel([one], new Map(), 1);
    const v = vectorize(model, one);
    assert.equal(v.length, VECTOR_DIMENSION);
    assert.ok(v.every(Number.isFinite));
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6);
    const tagged: VectorInput = { trackId: 2, bpmTag: 120, keyTag: 'Am', analysis: null, genres: ['Deep House'], tags: [{ kind: 'mood', name: 'happy', weight: 0.8 }] };
    const w = vectorize(model, tagged);
    assert.ok(Math.abs(Math.hypot(...w) - 1) < 1e-6);
    assert.deepEqual(vectorFromBytes(vectorToBytes(w)), w);
  });

  it('puts genres near their taxonomy parents and far from other families', () => {
    const model = fitModel([], new Map(), 100);
    const withGenre = (genre: string): VectorInput => ({ trackId: 1, bpmTag: null, keyTag: null, analysis: null, genres: [genre], tags: [] });
    const deep = vectorize(model, withGenre('Deep House'));
    const house = vectorize(model, withGenre('House'));
    const metal = vectorize(model, withGenre('Death Metal'));
    assert.ok(dot(deep, house) > dot(deep, metal) + 0.2, `deep·house ${dot(deep, house)} vs deep·metal ${dot(deep, metal)}`);
  });

  it('places keys on the circle of fifths: C near G and A minor, far from F#', () => {
    const at = (key: string, scale: string) => tonality({ trackId: 1, bpmTag: null, keyTag: null, genres: [], tags: [], analysis: { bpm: null, bpmConfidence: null, key, scale, keyConfidence: 1, lufs: null, energy: null, danceability: null, features: null } });
    const d = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - b[i]!));
    const c = at('C', 'major');
    assert.ok(d(c, at('G', 'major')) < d(c, at('F#', 'major')));
    assert.ok(d(c.slice(0, 2), at('A', 'minor').slice(0, 2)) < 1e-9, 'A minor shares C major’s place');
    assert.equal(at('A', 'minor')[2], -1);
  });
});

describe('HNSW index', () => {
  it('finds the exact top 10 for >= 95 % of queries on 25k clustered vectors, and survives save/load and removals', () => {
    const dim = VECTOR_DIMENSION;
    const n = 25_000;
    const centres = Array.from({ length: 50 }, () => Float32Array.from({ length: dim }, gauss));
    const exact = new ExactIndex(dim);
    const hnsw = new HnswIndex(dim);
    const all = new Float32Array(n * dim);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = centres[i % centres.length]!;
      const v = Float32Array.from({ length: dim }, (_, j) => c[j]! + gauss() * 0.8);
      const norm = Math.hypot(...v);
      for (let j = 0; j < dim; j++) v[j]! /= norm;
      all.set(v, i * dim);
      exact.upsert(i + 1, v);
      ids.push(i + 1);
    }
    hnsw.addMany(ids, all);
    let hits = 0;
    const queries = 200;
    for (let q = 0; q < queries; q++) {
      const v = all.subarray(q * 97 * dim, (q * 97 + 1) * dim);
      const truth = new Set(exact.search(v, 10).map((x) => x.trackId));
      hits += hnsw.search(v, 10).filter((x) => truth.has(x.trackId)).length;
    }
    const recall = hits / (queries * 10);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hnsw-')), 'v1.usearch');
    hnsw.save(file);
    const loaded = new HnswIndex(dim, file);
    assert.equal(loaded.size(), n);
    const v = all.subarray(0, dim);
    assert.equal(loaded.search(v, 1)[0]!.trackId, 1);
    loaded.remove(1);
    assert.ok(loaded.search(v, 10).every((x) => x.trackId !== 1), 'a removed track is never returned');
    loaded.upsert(1, v);
    assert.equal(loaded.search(v, 1)[0]!.trackId, 1);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
