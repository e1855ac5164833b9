// bench:vectors — the similarity index on 100k and 1M vectors of the model's dimension (48), random
// (unit Gaussian directions: the hardest case for a graph index) and clustered (1,000 centres with
// noise: what a music library looks like), in one run:
//   - index build time (HnswIndex.addMany: usearch's graph, its own threads);
//   - single-query top-10 latency p50/p99 over BENCH_QUERIES held-out queries (same distribution);
//   - recall@10 against exact search on BENCH_RECALL of those queries;
//   - the baseline, measured in the same run: exact search (ExactIndex, a full scan) per query,
//     and the speed-up of the index over it.
// Targets (issue #6): 1M top-10 p99 < 5 ms, recall@10 >= 0.95.
//   npm run bench:vectors   (BENCH_SIZES=100000,1000000, BENCH_QUERIES=1000, BENCH_RECALL=200)
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../scripts/random.js';
import { ExactIndex, HNSW, HnswIndex } from '../src/services/vectors/ann_index.js';
import { VECTOR_DIMENSION } from '../src/services/vectors/model.js';
import { intEnv, median } from './helpers.js';

const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const QUERIES = intEnv('BENCH_QUERIES', 1000);
const RECALL = Math.min(QUERIES, intEnv('BENCH_RECALL', 200));
const DIM = VECTOR_DIMENSION;
const CLUSTERS = 1000;

type Kind = 'random' | 'clustered';

function generator(kind: Kind, seed: number): (out: Float32Array, at: number) => void {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = kind === 'clustered' ? Array.from({ length: CLUSTERS }, () => Float32Array.from({ length: DIM }, gauss)) : [];
  return (out, at) => {
    const centre = kind === 'clustered' ? centres[Math.floor(random() * CLUSTERS)]! : null;
    let norm = 0;
    for (let j = 0; j < DIM; j++) {
      const v = centre ? centre[j]! + gauss() * 0.6 : gauss();
      out[at + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < DIM; j++) out[at + j]! /= norm;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface Row {
  kind: Kind;
  size: number;
  buildS: number;
  p50: number;
  p99: number;
  exactMs: number;
  recall: number;
  rssMiB: number;
}

function run(kind: Kind, size: number): Row {
  const next = generator(kind, 42);
  const data = new Float32Array(size * DIM);
  for (let i = 0; i < size; i++) next(data, i * DIM);
  const queries = new Float32Array(QUERIES * DIM);
  for (let q = 0; q < QUERIES; q++) next(queries, q * DIM);
  const ids = Array.from({ length: size }, (_, i) => i + 1);

  const hnsw = new HnswIndex(DIM);
  let t = performance.now();
  const CHUNK = 100_000;
  for (let i = 0; i < size; i += CHUNK) hnsw.addMany(ids.slice(i, i + CHUNK), data.subarray(i * DIM, Math.min(size, i + CHUNK) * DIM));
  const buildS = (performance.now() - t) / 1000;

  const latencies: number[] = [];
  const answers: number[][] = [];
  for (let q = 0; q < QUERIES; q++) {
    const v = queries.subarray(q * DIM, (q + 1) * DIM);
    t = performance.now();
    const found = hnsw.search(v, 10);
    latencies.push(performance.now() - t);
    answers.push(found.map((f) => f.trackId));
  }
  latencies.sort((a, b) => a - b);

  const exact = new ExactIndex(DIM);
  for (let i = 0; i < size; i++) exact.upsert(i + 1, data.subarray(i * DIM, (i + 1) * DIM));
  let hits = 0;
  const exactTimes: number[] = [];
  for (let q = 0; q < RECALL; q++) {
    const v = queries.subarray(q * DIM, (q + 1) * DIM);
    t = performance.now();
    const truth = new Set(exact.search(v, 10).map((f) => f.trackId));
    exactTimes.push(performance.now() - t);
    hits += answers[q]!.filter((id) => truth.has(id)).length;
  }
  return { kind, size, buildS, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), exactMs: median(exactTimes), recall: hits / (RECALL * 10), rssMiB: process.memoryUsage().rss / 2 ** 20 };
}

const rows: Row[] = [];
console.log(`# bench:vectors  node ${process.version}; dimension ${DIM}; HNSW connectivity ${HNSW.connectivity}, expansion add ${HNSW.expansionAdd} / search ${HNSW.expansionSearch}; ${QUERIES} queries, recall on ${RECALL}`);
for (const size of SIZES) {
  for (const kind of ['random', 'clustered'] as const) {
    const row = run(kind, size);
    rows.push(row);
    console.log(`  ${kind} ${size}: build ${row.buildS.toFixed(1)} s, p50 ${row.p50.toFixed(3)} ms, p99 ${row.p99.toFixed(3)} ms, exact ${row.exactMs.toFixed(1)} ms, recall@10 ${row.recall.toFixed(3)}`);
    if (global.gc) global.gc();
  }
}
console.log('\n| vectors | kind | build s | top-10 p50 ms | top-10 p99 ms | exact scan ms (baseline) | speed-up (exact / p50) | recall@10 | RSS MiB |');
console.log('|--------:|------|--------:|--------------:|--------------:|-------------------------:|-----------------------:|----------:|--------:|');
for (const r of rows) {
  console.log(`| ${r.size.toLocaleString('en')} | ${r.kind} | ${r.buildS.toFixed(1)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.exactMs.toFixed(1)} | ${(r.exactMs / r.p50).toFixed(0)}x | ${r.recall.toFixed(3)} | ${r.rssMiB.toFixed(0)} |`);
}
const big = rows.filter((r) => r.size >= 1_000_000);
if (big.length > 0) {
  const p99 = Math.max(...big.map((r) => r.p99));
  const recall = Math.min(...big.map((r) => r.recall));
  console.log(`\ntargets at 1M: top-10 p99 < 5 ms: ${p99 < 5 ? 'MET' : 'NOT MET'} (${p99.toFixed(3)} ms); recall@10 >= 0.95: ${recall >= 0.95 ? 'MET' : 'NOT MET'} (${recall.toFixed(3)})`);
}
