// bench:search — the library listing and search (what GET /tracks, /albums, /artists ask the
// database: a page and its count) on a synthetic library of BENCH_SEARCH_TRACKS (100,000) tracks in
// SQLite, before and after migration 0010, same run, interleaved: "before" is the schema at 0009
// with the search of bench/search-before.ts (LIKE on every row, exact count), "after" the latest
// schema with src/services/library/search.ts (FTS5 trigram index, count stopped 1,000 past the page
// as the API does). p50/p99 over BENCH_SEARCH_REQUESTS (200) requests each. With DATABASE_URL, the
// same in PostgreSQL (two databases of its own, dropped after; "after" with the pg_trgm indexes).
//   npm run bench:search
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Migrator, sql, type Kysely } from 'kysely';
import { migrateToLatest, migrationsFor } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import type { Db } from '../src/db/types.js';
import * as after from '../src/services/library/search.js';
import * as before from './search-before.js';
import { intEnv, median } from './helpers.js';
import { word } from '../scripts/million-library.js';
import { insertSearchLibrary } from './search-library.js';

const tracks = intEnv('BENCH_SEARCH_TRACKS', 100_000);
const requests = intEnv('BENCH_SEARCH_REQUESTS', 200);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function library(dir: string, latest: boolean, databaseUrl?: string): Promise<{ db: Db; close(): Promise<void> }> {
  const handle = openDatabase({ dataDir: dir, databaseUrl });
  if (latest) await migrateToLatest(handle.db, handle.dialect);
  else {
    // the schema before the index (the Migrator of src/db/migrate.ts, stopped at 0009)
    const provider = { getMigrations: async () => Object.fromEntries(Object.entries(migrationsFor(handle.dialect)).filter(([name]) => name < '0010')) };
    const { error } = await new Migrator({ db: handle.db as unknown as Kysely<unknown>, provider }).migrateToLatest();
    if (error) throw error;
  }
  return { db: handle.db, close: handle.close };
}

type Search = typeof after;
// before: the artists' count read every present track for each artist with no present track of its
// own (1 to 3 s with a search word, minutes without at 25,000 artists): once, or not at all
type Case = { name: string; baselineRuns?: number; run(s: Search, db: Db, i: number): Promise<unknown> };
const page = (i: number) => ({ limit: 50, offset: (i * 37) % 1000 });
const atMost = (i: number) => page(i).offset + 50 + 1_000 + 1;
const searchWord = (i: number) => word(((i * 7919) % 5000) + 400).toLowerCase();
const cases: Case[] = [
  { name: 'GET /tracks?search=<word>', run: (s, db, i) => Promise.all([s.searchTracks(db, searchWord(i), { limit: 50, offset: 0 }), s.countTracks(db, searchWord(i), atMost(0))]) },
  { name: 'GET /tracks?offset=…', run: (s, db, i) => Promise.all([s.searchTracks(db, undefined, page(i)), s.countTracks(db, undefined, atMost(i))]) },
  { name: 'GET /albums?offset=…', run: (s, db, i) => Promise.all([s.searchAlbums(db, undefined, page(i)), s.countAlbums(db, undefined, atMost(i))]) },
  { name: 'GET /albums?search=<word>', run: (s, db, i) => Promise.all([s.searchAlbums(db, searchWord(i), { limit: 50, offset: 0 }), s.countAlbums(db, searchWord(i), atMost(0))]) },
  { name: 'GET /artists?search=<word>', baselineRuns: 1, run: (s, db, i) => Promise.all([s.searchArtists(db, searchWord(i), { limit: 50, offset: 0 }), s.countArtists(db, searchWord(i), atMost(0))]) },
  { name: 'GET /artists?offset=…', baselineRuns: 0, run: (s, db, i) => Promise.all([s.searchArtists(db, undefined, page(i)), s.countArtists(db, undefined, atMost(i))]) },
];

async function compare(label: string, was: Db, now: Db): Promise<void> {
  console.log(`\n## ${label}`);
  for (const c of cases) {
    const times = { before: [] as number[], after: [] as number[] };
    for (let i = 0; i < requests; i++) {
      // interleaved: the noise of a shared machine falls on both
      for (const [side, s, db] of [['before', before as unknown as Search, was], ['after', after, now]] as const) {
        if (side === 'before' && i >= (c.baselineRuns ?? requests)) continue;
        const t = performance.now();
        await c.run(s, db, i);
        times[side].push(performance.now() - t);
      }
    }
    const f = (v: number[]) => (v.length === 0 ? 'not run' : `p50 ${percentile(v, 50).toFixed(1)} ms, p99 ${percentile(v, 99).toFixed(1)} ms`);
    const ratio = times.before.length === 0 ? '' : `; median ratio ${(median(times.before) / median(times.after)).toFixed(1)}x`;
    console.log(`${c.name}: before ${f(times.before)}; after ${f(times.after)}${ratio} (load ${load()})`);
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-search-bench-'));
try {
  console.log(`# bench:search  node ${process.version}, ${os.availableParallelism()} CPU(s), load ${load()}; ${tracks.toLocaleString('en-US')} tracks`);
  // BENCH_SEARCH_DB=postgres: PostgreSQL only
  if (process.env.BENCH_SEARCH_DB !== 'postgres') {
    const old = await library(path.join(root, 'before'), false);
    await insertSearchLibrary(old.db, tracks);
    await old.close();
    fs.cpSync(path.join(root, 'before'), path.join(root, 'after'), { recursive: true });
    const t0 = performance.now();
    const now = await library(path.join(root, 'after'), true);
    console.log(`SQLite: migration 0010 on ${tracks.toLocaleString('en-US')} tracks: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const was = await library(path.join(root, 'before'), false);
    await compare('SQLite', was.db, now.db);
    await was.close();
    await now.close();
  }

  if (process.env.DATABASE_URL) {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    // databases of their own, not schemas: Kysely's migrator looks for its lock table in every schema
    const names = [`sb_search_before_${process.pid}`, `sb_search_after_${process.pid}`];
    try {
      const urls = names.map((name) => {
        const url = new URL(process.env.DATABASE_URL!);
        url.pathname = `/${name}`;
        return url.toString();
      });
      for (const name of names) await admin.query(`create database ${name}`);
      const wasPg = await library(root, false, urls[0]);
      const nowPg = await library(root, false, urls[1]);
      await insertSearchLibrary(wasPg.db, tracks);
      await insertSearchLibrary(nowPg.db, tracks);
      const t1 = performance.now();
      await migrateToLatest(nowPg.db, 'postgres');
      console.log(`\nPostgreSQL: migration 0010 on ${tracks.toLocaleString('en-US')} tracks: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      for (const handle of [wasPg, nowPg]) await sql`analyze`.execute(handle.db);
      await compare('PostgreSQL', wasPg.db, nowPg.db);
      await wasPg.close();
      await nowPg.close();
    } finally {
      for (const name of names) await admin.query(`drop database if exists ${name}`);
      await admin.end();
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
