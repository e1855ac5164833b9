// SoniqueBay sink throughput (`npm run bench:soniquebay`): BENCH_N tracks written by our own batch
// stage (batch.process_entities, in the scan's batches of 200, into the default SQLite library),
// then mirrored by the sink (soniquebay.sync) into SoniqueBay's schema on PostgreSQL
// (DATABASE_URL, a schema of the benchmark's own, dropped afterwards), then a second sync that
// must write nothing. Both stages are the task handlers the worker runs, called in this process
// with a worker's context; figures are medians of BENCH_RUNS rounds (each on fresh databases, the
// two stages alternating), with the load average, since the machine is shared.
//
// Environment: BENCH_N (10000), BENCH_RUNS (3), DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import { createServices } from '../src/services/index.js';
import { syncSoniqueBay } from '../src/services/soniquebay/sink.js';
import { closeSinkPools, sinkPool } from '../src/services/soniquebay/target.js';
import type { TaskContext } from '../src/tasks/define.js';
import { processEntities } from '../src/workers/scan/batch_processor.js';
import type { ExtractedTrack } from '../src/workers/scan/extracted.js';
import { EXTRACT_BATCH_SIZE } from '../src/workers/scan/scan_worker.js';
import { createSoniqueBayDb } from '../test/helpers/soniquebay-db.js';
import { intEnv, median } from './helpers.js';

const N = intEnv('BENCH_N', 10_000);
const RUNS = intEnv('BENCH_RUNS', 3);
const PG = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = '/bench/music';
const GENRES = ['Rock', 'Pop', 'Jazz', 'Electronic', 'Hip-Hop', 'Folk', 'Classical', 'Ambient'];
const log = pino({ level: 'silent' });

/** a library as the extract stage hands it over: 20 tracks per album, 4 albums per artist */
function items(): ExtractedTrack[] {
  return Array.from({ length: N }, (_, i) => {
    const album = Math.floor(i / 20);
    const artist = `Artist ${Math.floor(album / 4)}`;
    return {
      path: `${ROOT}/${artist}/Album ${album}/${String((i % 20) + 1).padStart(2, '0')} - Track ${i}.flac`,
      size: 20_000_000 + i,
      mtimeMs: 1_700_000_000_000 + i,
      format: 'FLAC',
      codec: 'FLAC',
      lossless: true,
      duration: 180 + (i % 120),
      bitrate: 900_000,
      sampleRate: 44_100,
      channels: 2,
      bitDepth: 16,
      title: `Track ${i}`,
      artists: i % 10 === 0 ? [artist, `Guest ${i % 50}`] : [artist],
      artistDisplay: artist,
      albumArtists: [artist],
      album: `Album ${album}`,
      discNo: 1,
      discTotal: 1,
      trackNo: (i % 20) + 1,
      trackTotal: 20,
      year: 1990 + (album % 30),
      date: String(1990 + (album % 30)),
      originalDate: null,
      genres: [GENRES[album % GENRES.length]!, ...(i % 3 === 0 ? [GENRES[(album + 1) % GENRES.length]!] : [])],
      composer: null,
      label: null,
      isrc: null,
      mbTrackId: null,
      mbRecordingId: i % 2 === 0 ? `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` : null,
      mbAlbumId: null,
      mbArtistIds: [],
      mbAlbumArtistIds: [],
      mbReleaseGroupId: null,
      compilation: false,
      rgTrackGain: null,
      rgTrackPeak: null,
      rgAlbumGain: null,
      rgAlbumPeak: null,
      hasLyrics: false,
      pictureHash: null,
      bpm: i % 3 === 0 ? 90 + (i % 60) : null,
      key: i % 4 === 0 ? 'Am' : null,
      abTags: {},
      fallbacks: [],
    };
  });
}

async function round(library: ExtractedTrack[]): Promise<{ batch: number; sync: number; resync: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-sink-'));
  const database = openDatabase({ dataDir: dir });
  const sb = await createSoniqueBayDb(PG);
  try {
    await migrateToLatest(database.db, database.dialect);
    await database.db.insertInto('library_roots').values({ path: ROOT, added_at: Date.now() }).execute();
    const services = createServices({ ...loadConfig({}), dataDir: dir, outsideLookups: false });
    const ctx = {
      db: database.db,
      services,
      log,
      jobId: 'bench',
      taskName: 'bench',
      attempt: 1,
      progress: async () => undefined,
      enqueue: async (name: string) => ({ id: 'x:1', name, queue: 'x' }),
      jobs: { counts: async () => ({}), prune: async () => 0 },
      signal: new AbortController().signal,
    } satisfies TaskContext;

    let started = performance.now();
    for (let i = 0; i < library.length; i += EXTRACT_BATCH_SIZE) await processEntities({ items: library.slice(i, i + EXTRACT_BATCH_SIZE), errors: [] }, ctx);
    const batch = performance.now() - started;

    const pool = sinkPool({ url: PG, schema: sb.schema });
    started = performance.now();
    const report = await syncSoniqueBay(database.db, pool, { images: services.images });
    const sync = performance.now() - started;
    if (report.tracks !== library.length) throw new Error(`the sink mirrored ${report.tracks} of ${library.length} tracks`);
    started = performance.now();
    const again = await syncSoniqueBay(database.db, pool, { images: services.images });
    const resync = performance.now() - started;
    if (again.tracks + again.albums + again.artists !== 0) throw new Error(`a second sync wrote ${JSON.stringify(again)}`);
    return { batch, sync, resync };
  } finally {
    await closeSinkPools();
    await database.close();
    await sb.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const library = items();
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`SoniqueBay sink: ${N} tracks, ${RUNS} rounds, ${os.cpus().length} cores, load ${load()}`);
const rounds = [];
for (let r = 0; r < RUNS; r++) {
  const result = await round(library);
  rounds.push(result);
  console.log(`  round ${r + 1}: batch stage ${(result.batch / 1000).toFixed(2)} s, sink ${(result.sync / 1000).toFixed(2)} s (${((result.sync / result.batch)).toFixed(2)}x), second sync ${(result.resync / 1000).toFixed(2)} s; load ${load()}`);
}
const batch = median(rounds.map((r) => r.batch));
const sync = median(rounds.map((r) => r.sync));
const resync = median(rounds.map((r) => r.resync));
console.log(`median: batch stage ${(batch / 1000).toFixed(2)} s (${Math.round(N / (batch / 1000))} tracks/s), sink ${(sync / 1000).toFixed(2)} s (${Math.round(N / (sync / 1000))} tracks/s), sink/batch ${(sync / batch).toFixed(2)}x (target < 2x), second sync (nothing to write) ${(resync / 1000).toFixed(2)} s; load ${load()}`);
