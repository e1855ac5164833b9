// bench:scan's big-library mode (`BENCH_ONLY=million npm run bench:scan`): a library of
// BENCH_MILLION_FILES (1,000,000) small tagged files written by scripts/million-library.ts, scanned
// by the installed command as a user runs it:
//   embedded     `soniquebay scan <root> --json` on a fresh data dir: files/s, peak RSS (and RSS at
//                each tenth of the scan, to see it flat), database size, then the unchanged rescan,
//                then `soniquebay serve` on the result: p50/p99 of `GET /tracks?search=<word>` and
//                `GET /albums` (BENCH_API_REQUESTS each, one at a time), with the API alone, then
//                with `serve --embedded` (its worker analysing the new tracks in the same process);
//   distributed  with REDIS_URL and DATABASE_URL: PostgreSQL (a database of its own, dropped after)
//                and BullMQ (a key prefix of its own, deleted after); one `soniquebay worker
//                --queues scan,batch` and 1, then 2, `soniquebay worker --queues extract`; the scan is
//                `soniquebay scan <root> --no-worker --json`; files/s for each.
// The files are generated into BENCH_MILLION_DIR (default os.tmpdir()/soniquebay-million-<n>) and
// deleted at the end unless BENCH_MILLION_KEEP=1 (then reused by the next run).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { intEnv, median } from './helpers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin', 'soniquebay.js');

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function baseEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SONIQUEBAY_')) env[k] = v;
  return { ...env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`, SONIQUEBAY_OUTSIDE_LOOKUPS: 'false', ...extra };
}

interface Timed {
  stdout: string;
  wallS: number;
  /** RSS samples (KiB) every second, and the peak */
  rss: number[];
  peakKiB: number;
}

/** Runs the installed command to its end, sampling its RSS every second. */
function runTimed(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const rss: number[] = [];
    let peakKiB = 0;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4_000)));
    const sample = () => {
      const kib = rssKiB(child.pid!);
      if (kib > 0) rss.push(kib);
      peakKiB = Math.max(peakKiB, kib);
    };
    const fast = setInterval(() => (peakKiB = Math.max(peakKiB, rssKiB(child.pid!))), 100);
    const slow = setInterval(sample, 1_000);
    child.on('exit', (code) => {
      clearInterval(fast);
      clearInterval(slow);
      if (code !== 0) reject(new Error(`soniquebay ${args.join(' ')}: exit ${code}\n${stderr}`));
      else resolve({ stdout, wallS: (performance.now() - t0) / 1000, rss, peakKiB });
    });
  });
}

function startLongRunning(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-20_000)));
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

interface Summary {
  status: string;
  seconds: number;
  filesPerSecond: number;
  discovered: number;
  extracted: number;
  failed: number;
}

async function apiLatencies(dataDir: string, requests: number, serveArgs: string[]): Promise<{ tracks: number[]; albums: number[] }> {
  const server = startLongRunning(['serve', '--port', '0', ...serveArgs], baseEnv({ SONIQUEBAY_DATA_DIR: dataDir, SONIQUEBAY_LOG_LEVEL: 'info' }));
  try {
    const deadline = Date.now() + 120_000;
    let address: string | undefined;
    while (!address) {
      if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`serve did not start:\n${server.output()}`);
      address = /"address":"(http:\/\/[^"]+)"/.exec(server.output())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const words = ['ka', 'lo', 'mi', 'ra', 'ne', 'to', 'vi', 'sa', 'du', 'fe', 'gri', 'zon', 'bel', 'mar', 'ti', 'qua', 'ro', 'lu', 'che', 'wen'];
    const timed = async (url: string) => {
      const t = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
      return performance.now() - t;
    };
    const tracks: number[] = [];
    const albums: number[] = [];
    for (let i = 0; i < 10; i++) await timed(`${address}/tracks?search=${words[i]}`); // warm-up
    for (let i = 0; i < requests; i++) {
      const w = `${words[i % words.length]}${words[(i * 7) % words.length]}`;
      tracks.push(await timed(`${address}/tracks?search=${encodeURIComponent(w)}`));
      albums.push(await timed(`${address}/albums?offset=${(i * 37) % 1000}`));
    }
    return { tracks, albums };
  } finally {
    await stop(server.child);
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) total += fs.statSync(path.join(dir, entry.name)).size;
  return total;
}

async function distributed(root: string, files: number, extractWorkers: number): Promise<{ summary: Summary; wallS: number }> {
  const { default: pg } = await import('pg');
  const { Redis } = await import('ioredis');
  const id = randomBytes(4).toString('hex');
  const dbName = `sb_million_${id}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${dbName}`;
  const prefix = `sbbench-${id}`;
  const env = baseEnv({
    SONIQUEBAY_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-million-dist-')),
    SONIQUEBAY_DATABASE_URL: url.toString(),
    SONIQUEBAY_BROKER_URL: process.env.REDIS_URL!,
    SONIQUEBAY_REDIS_PREFIX: prefix,
    SONIQUEBAY_LOG_LEVEL: 'warn',
  });
  const workers = [startLongRunning(['worker', '--queues', 'scan,batch', '--no-schedules'], env)];
  for (let i = 0; i < extractWorkers; i++) workers.push(startLongRunning(['worker', '--queues', 'extract', '--no-schedules'], env));
  try {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const run = await runTimed(['scan', root, '--no-worker', '--json'], env);
    const summary = JSON.parse(run.stdout) as Summary;
    if (summary.status !== 'completed' || summary.discovered !== files) throw new Error(`distributed scan: ${run.stdout}`);
    return { summary, wallS: run.wallS };
  } finally {
    await Promise.all(workers.map((w) => stop(w.child)));
    fs.rmSync(env.SONIQUEBAY_DATA_DIR!, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(process.env.REDIS_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

export async function benchMillion(): Promise<void> {
  const files = intEnv('BENCH_MILLION_FILES', 1_000_000);
  const requests = intEnv('BENCH_API_REQUESTS', 200);
  const root = path.resolve(process.env.BENCH_MILLION_DIR ?? path.join(os.tmpdir(), `soniquebay-million-${files}`));
  const keep = process.env.BENCH_MILLION_KEEP === '1';
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`# bench:scan (million mode)  node ${process.version}, ${os.availableParallelism()} CPU(s), load ${load()}; ${files.toLocaleString('en-US')} files in ${root}`);
  try {
    const manifestFile = path.join(root, '.million.json');
    if (!fs.existsSync(manifestFile)) {
      fs.rmSync(root, { recursive: true, force: true });
      const { generateMillion } = await import('../scripts/million-library.js');
      const t0 = performance.now();
      const m = generateMillion({ files, out: root, onProgress: (n) => process.stderr.write(`\r  generated ${n}`) });
      process.stderr.write('\n');
      console.log(`generated ${m.files.toLocaleString('en-US')} files, ${m.albums.toLocaleString('en-US')} albums, ${m.artists.toLocaleString('en-US')} artists, ${(m.bytes / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { files: number; albums: number; artists: number };

    // embedded
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-million-data-'));
    try {
      const env = baseEnv({ SONIQUEBAY_DATA_DIR: dataDir });
      console.log(`\n## embedded (load ${load()})`);
      const first = await runTimed(['scan', root, '--json'], env);
      const s = JSON.parse(first.stdout) as Summary;
      if (s.status !== 'completed' || s.discovered !== manifest.files || s.extracted + s.failed !== manifest.files) throw new Error(`first scan: ${first.stdout}`);
      const tenths = Array.from({ length: 10 }, (_, i) => first.rss[Math.min(first.rss.length - 1, Math.floor(((i + 1) / 10) * (first.rss.length - 1)))] ?? 0);
      console.log(`first scan: ${s.filesPerSecond.toLocaleString('en-US')} files/s (${s.seconds} s; wall ${first.wallS.toFixed(1)} s), ${s.extracted.toLocaleString('en-US')} read, ${s.failed} failed, peak RSS ${(first.peakKiB / 1024).toFixed(0)} MiB`);
      console.log(`RSS at each tenth of the scan (MiB): ${tenths.map((k) => (k / 1024).toFixed(0)).join(', ')}`);
      console.log(`database: ${(dirBytes(dataDir) / 2 ** 20).toFixed(0)} MiB (${dataDir})`);
      const rescan = await runTimed(['scan', root, '--json'], env);
      const r = JSON.parse(rescan.stdout) as Summary;
      if (r.status !== 'completed' || r.extracted !== 0) throw new Error(`rescan: ${rescan.stdout}`);
      console.log(`unchanged rescan: wall ${rescan.wallS.toFixed(2)} s (scan ${r.seconds} s), peak RSS ${(rescan.peakKiB / 1024).toFixed(0)} MiB (load ${load()})`);
      const line = (name: string, v: number[]) => `${name}: p50 ${percentile(v, 50).toFixed(1)} ms, p99 ${percentile(v, 99).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms (${v.length} requests, median ${median(v).toFixed(1)})`;
      // the API alone first, on what the scan left: --embedded then analyses tracks as it answers
      for (const [what, args] of [['serve (the API alone)', []], ['serve --embedded (its worker analysing)', ['--embedded']]] as const) {
        const api = await apiLatencies(dataDir, requests, [...args]);
        console.log(`${what} (load ${load()}):`);
        console.log(line('  GET /tracks?search=<word>', api.tracks));
        console.log(line('  GET /albums?offset=…', api.albums));
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }

    // distributed
    if (process.env.REDIS_URL && process.env.DATABASE_URL) {
      for (const n of [1, 2]) {
        console.log(`\n## distributed, ${n} extract worker(s) (load ${load()})`);
        const { summary, wallS } = await distributed(root, manifest.files, n);
        console.log(`scan: ${summary.filesPerSecond.toLocaleString('en-US')} files/s (${summary.seconds} s; wall ${wallS.toFixed(1)} s), ${summary.extracted.toLocaleString('en-US')} read, ${summary.failed} failed`);
      }
    } else {
      console.log('\ndistributed: skipped (set REDIS_URL and DATABASE_URL)');
    }
  } finally {
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  }
}
