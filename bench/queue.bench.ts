// Queue throughput benchmark (`npm run bench:queue`).
//
// 1. Embedded broker (SQLite) against a minimal hand-written SQLite job loop on the same kind of
//    file (WAL, synchronous=NORMAL): the least work a durable SQLite queue can do per job.
// 2. BullMQ broker against plain BullMQ (Queue + Worker) with the same job and worker options on
//    the same Redis.
//
// The machine may be shared and noisy: every figure is the median of BENCH_RUNS runs, the runs of
// an adapter and of its baseline alternate, and only ratios measured in the same run are reported.
//
// Environment: BENCH_N (jobs per run, 20000), BENCH_RUNS (3), BENCH_CONCURRENCY (8),
// BENCH_CHUNK (enqueue chunk size, 1000), BENCH_ONLY (embedded | bullmq), REDIS_URL.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { z } from 'zod';
import { BullmqBroker } from '../src/broker/bullmq/broker.js';
import { EmbeddedBroker } from '../src/broker/embedded/broker.js';
import { openDatabase } from '../src/db/open.js';
import { openSqlite } from '../src/db/sqlite.js';
import { DEFAULT_RETRY, createRegistry, defineTask, type TaskRegistry } from '../src/tasks/define.js';
import { loadConfig } from '../src/config.js';
import { createServices } from '../src/services/index.js';
import { intEnv, median } from './helpers.js';

const N = intEnv('BENCH_N', 20_000);
const RUNS = intEnv('BENCH_RUNS', 3);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 8);
const CHUNK = intEnv('BENCH_CHUNK', 1_000);
const WARMUP_N = Math.min(2_000, N);
const ONLY = process.env.BENCH_ONLY ?? '';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_TIMEOUT_MS = 300_000;

const QUEUE = 'bench';
const TASK = 'bench.noop';
const logger = pino({ level: 'silent' });
// the no-op task uses no service; outside lookups stay off
const services = createServices({ ...loadConfig({}), dataDir: os.tmpdir(), outsideLookups: false });

/** handler runs since the last reset, to check that every job really ran once */
let handled = 0;

const registry: TaskRegistry = createRegistry(
  [
    defineTask({
      name: TASK,
      queue: QUEUE,
      description: 'does nothing: measures the queue, not the work',
      schema: z.object({ i: z.number().int() }),
      timeoutMs: 30_000,
      retry: DEFAULT_RETRY,
      handler: async () => {
        handled++;
        return null;
      },
    }),
  ],
  { [QUEUE]: { concurrency: CONCURRENCY } },
);

// ---------------------------------------------------------------------------------------------
// small helpers

function rate(n: number, ms: number): number {
  return (n * 1000) / ms;
}

function fmtRate(jobsPerSec: number): string {
  return Math.round(jobsPerSec).toLocaleString('en-US');
}

function fmtUs(us: number): string {
  return `${us >= 0 ? '+' : ''}${us.toFixed(1)}`;
}

function jobsOf(n: number): { name: string; payload: { i: number } }[] {
  return Array.from({ length: n }, (_, i) => ({ name: TASK, payload: { i } }));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not finished after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) => '| ' + cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

interface RunResult {
  /** wall time of enqueueing all N jobs */
  enqueueMs: number;
  /** wall time from worker start until every job is completed */
  processMs: number;
}

interface Summary {
  enqueue: number;
  process: number;
  endToEnd: number;
  /** per-run processing rates, for the spread */
  processRuns: number[];
}

function summarize(n: number, runs: readonly RunResult[]): Summary {
  return {
    enqueue: median(runs.map((r) => rate(n, r.enqueueMs))),
    process: median(runs.map((r) => rate(n, r.processMs))),
    endToEnd: median(runs.map((r) => rate(n, r.enqueueMs + r.processMs))),
    processRuns: runs.map((r) => rate(n, r.processMs)),
  };
}

/** extra time per job of `adapter` over `baseline`, in microseconds */
function overheadUs(adapterRate: number, baselineRate: number): number {
  return (1 / adapterRate - 1 / baselineRate) * 1e6;
}

// ---------------------------------------------------------------------------------------------
// 1. embedded broker vs a minimal SQLite queue loop

/** The least a durable SQLite queue does: one insert per job, claim in batches, one update per finished job. */
function sqliteBaselineRun(dir: string, n: number, batch: number): RunResult {
  const conn = openSqlite(path.join(dir, 'baseline.db'));
  try {
    conn.exec(`CREATE TABLE jobs (
                 id INTEGER PRIMARY KEY,
                 queue TEXT NOT NULL,
                 name TEXT NOT NULL,
                 payload TEXT NOT NULL,
                 state TEXT NOT NULL,
                 locked_by TEXT,
                 result TEXT
               );
               CREATE INDEX jobs_waiting ON jobs (queue, id) WHERE state = 'waiting';`);
    const insert = conn.prepare(`INSERT INTO jobs (queue, name, payload, state) VALUES (?, ?, ?, 'waiting')`);
    const claim = conn.prepare(`UPDATE jobs SET state = 'active', locked_by = ?
                                WHERE id IN (SELECT id FROM jobs WHERE state = 'waiting' AND queue = ? ORDER BY id LIMIT ?)
                                RETURNING id, name, payload`);
    const complete = conn.prepare(`UPDATE jobs SET state = 'completed', locked_by = NULL, result = ? WHERE id = ? AND state = 'active'`);
    const jobs = jobsOf(n);

    const t0 = performance.now();
    conn.transaction(() => {
      for (const job of jobs) insert.run(QUEUE, job.name, JSON.stringify(job.payload));
    })();
    const t1 = performance.now();

    let done = 0;
    for (;;) {
      const rows = claim.all('baseline-worker', QUEUE, batch) as { id: number; name: string; payload: string }[];
      if (rows.length === 0) break;
      for (const row of rows) {
        JSON.parse(row.payload);
        complete.run('null', row.id);
        done++;
      }
    }
    const t2 = performance.now();
    if (done !== n) throw new Error(`sqlite baseline: ${done} of ${n} jobs completed`);
    return { enqueueMs: t1 - t0, processMs: t2 - t1 };
  } finally {
    conn.close();
  }
}

async function embeddedRun(dir: string, n: number): Promise<RunResult> {
  const database = openDatabase({ dataDir: dir });
  const broker = await EmbeddedBroker.open({ file: database.sqliteFile!, registry, db: database.db, services, logger });
  try {
    const jobs = jobsOf(n);
    const t0 = performance.now();
    for (let k = 0; k < n; k += CHUNK) await broker.enqueueMany(jobs.slice(k, k + CHUNK));
    const t1 = performance.now();

    handled = 0;
    let completed = 0;
    let failed = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    const unsubscribe = await broker.subscribe((event) => {
      if (event.type === 'completed' && ++completed === n) allDone();
      else if (event.type === 'failed') failed++;
    });

    const t2 = performance.now();
    const worker = await broker.startWorker();
    await withTimeout(finished, RUN_TIMEOUT_MS, 'embedded run');
    const t3 = performance.now();

    await worker.close();
    await unsubscribe();
    const counts = (await broker.counts())[QUEUE]!;
    if (failed > 0 || handled !== n || counts.completed !== n) {
      throw new Error(`embedded run: ${counts.completed} completed, ${failed} failed, ${handled} handler runs, expected ${n}`);
    }
    return { enqueueMs: t1 - t0, processMs: t3 - t2 };
  } finally {
    await broker.close();
    await database.close();
  }
}

async function benchEmbedded(root: string): Promise<void> {
  console.log(`\n## 1. Embedded broker (SQLite) vs minimal SQLite queue loop`);
  console.log(`N=${N} no-op jobs, concurrency ${CONCURRENCY}, enqueueMany chunks of ${CHUNK}, baseline claims batches of ${CONCURRENCY}, ${RUNS} runs (median)`);

  const fresh = (label: string) => fs.mkdtempSync(path.join(root, `${label}-`));
  // warm-up (JIT, file cache), not counted
  sqliteBaselineRun(fresh('warm-base'), WARMUP_N, CONCURRENCY);
  await embeddedRun(fresh('warm-emb'), WARMUP_N);

  const baseline: RunResult[] = [];
  const embedded: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) {
    // alternate the order, so a slow phase of the machine does not always hit the same side
    const order = run % 2 === 1 ? (['baseline', 'embedded'] as const) : (['embedded', 'baseline'] as const);
    for (const which of order) {
      if (which === 'baseline') baseline.push(sqliteBaselineRun(fresh(`base${run}`), N, CONCURRENCY));
      else embedded.push(await embeddedRun(fresh(`emb${run}`), N));
    }
    const b = baseline[run - 1]!;
    const e = embedded[run - 1]!;
    console.log(
      `  run ${run}: embedded ${fmtRate(rate(N, e.processMs))} jobs/s, baseline ${fmtRate(rate(N, b.processMs))} jobs/s, time ratio ${(e.processMs / b.processMs).toFixed(2)} (processing)`,
    );
  }

  const b = summarize(N, baseline);
  const e = summarize(N, embedded);
  console.log();
  console.log(
    table(
      ['embedded (median)', 'embedded jobs/s', 'baseline jobs/s', 'baseline / embedded', 'overhead µs/job'],
      [
        ['enqueue', fmtRate(e.enqueue), fmtRate(b.enqueue), `${(b.enqueue / e.enqueue).toFixed(2)}x`, fmtUs(overheadUs(e.enqueue, b.enqueue))],
        ['processing', fmtRate(e.process), fmtRate(b.process), `${(b.process / e.process).toFixed(2)}x`, fmtUs(overheadUs(e.process, b.process))],
        ['end to end', fmtRate(e.endToEnd), fmtRate(b.endToEnd), `${(b.endToEnd / e.endToEnd).toFixed(2)}x`, fmtUs(overheadUs(e.endToEnd, b.endToEnd))],
      ],
    ),
  );
  const paired = embedded.map((run, i) => run.processMs / baseline[i]!.processMs);
  console.log(`processing time ratio embedded / baseline per run: ${paired.map((x) => x.toFixed(2)).join(', ')} (median ${median(paired).toFixed(2)})`);
  console.log(`per-job cost (processing): embedded ${(1e6 / e.process).toFixed(1)} µs/job, baseline ${(1e6 / b.process).toFixed(1)} µs/job`);
  console.log(`embedded processing runs: ${e.processRuns.map(fmtRate).join(', ')} jobs/s`);
  const met = e.process >= 5_000;
  console.log(`target embedded >= 5,000 no-op jobs/s (processing): ${met ? 'MET' : 'NOT MET'} (${fmtRate(e.process)} jobs/s; end to end ${fmtRate(e.endToEnd)} jobs/s)`);
}

// ---------------------------------------------------------------------------------------------
// 2. BullMQ broker vs plain BullMQ

/** resolves when no job of the queue is left to run (wait, prioritized, delayed, active) */
async function drained(monitor: Queue, what: string): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const c = await monitor.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    if ((c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}: not drained after ${RUN_TIMEOUT_MS} ms (${JSON.stringify(c)})`);
    await sleep(5);
  }
}

interface RedisCtx {
  url: string;
  /** one prefix per benchmark process; each run gets its own below it */
  basePrefix: string;
  jobOptions: JobsOptions;
  db: ReturnType<typeof openDatabase>;
}

async function withMonitor<T>(ctx: RedisCtx, prefix: string, fn: (monitor: Queue) => Promise<T>): Promise<T> {
  const connection = new Redis(ctx.url, { maxRetriesPerRequest: null });
  const monitor = new Queue(QUEUE, { connection, prefix });
  try {
    return await fn(monitor);
  } finally {
    await monitor.obliterate({ force: true }).catch(() => undefined);
    await monitor.close();
    await connection.quit().catch(() => connection.disconnect());
  }
}

async function checkFinished(monitor: Queue, n: number, what: string): Promise<void> {
  const c = await monitor.getJobCounts('failed');
  if ((c.failed ?? 0) > 0 || handled !== n) throw new Error(`${what}: ${c.failed ?? 0} failed, ${handled} handler runs, expected ${n}`);
}

async function rawBullmqRun(ctx: RedisCtx, prefix: string, n: number): Promise<RunResult> {
  return withMonitor(ctx, prefix, async (monitor) => {
    // as the broker does: one connection for the Queue and the Worker (BullMQ duplicates it for blocking calls)
    const connection = new Redis(ctx.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection, prefix });
    let worker: Worker | undefined;
    try {
      const jobs = jobsOf(n);
      const t0 = performance.now();
      for (let k = 0; k < n; k += CHUNK) {
        await queue.addBulk(jobs.slice(k, k + CHUNK).map((job) => ({ name: job.name, data: job.payload, opts: ctx.jobOptions })));
      }
      const t1 = performance.now();

      handled = 0;
      const t2 = performance.now();
      worker = new Worker(
        QUEUE,
        async () => {
          handled++;
          return null;
        },
        {
          connection,
          prefix,
          concurrency: CONCURRENCY,
          // the broker's defaults (lockMs 30 s, stalled check every lockMs / 2, maxStalled 1)
          lockDuration: 30_000,
          stalledInterval: 15_000,
          maxStalledCount: 1,
          settings: { backoffStrategy: () => 0 },
        },
      );
      await drained(monitor, 'raw bullmq run');
      const t3 = performance.now();
      await checkFinished(monitor, n, 'raw bullmq run');
      return { enqueueMs: t1 - t0, processMs: t3 - t2 };
    } finally {
      await worker?.close();
      await queue.close();
      await connection.quit().catch(() => connection.disconnect());
    }
  });
}

async function adapterBullmqRun(ctx: RedisCtx, prefix: string, n: number): Promise<RunResult> {
  return withMonitor(ctx, prefix, async (monitor) => {
    const broker = new BullmqBroker({ url: ctx.url, prefix, registry, db: ctx.db.db, services, logger });
    try {
      const jobs = jobsOf(n);
      const t0 = performance.now();
      for (let k = 0; k < n; k += CHUNK) await broker.enqueueMany(jobs.slice(k, k + CHUNK));
      const t1 = performance.now();

      handled = 0;
      const t2 = performance.now();
      const worker = await broker.startWorker();
      await drained(monitor, 'bullmq adapter run');
      const t3 = performance.now();
      await worker.close();
      await checkFinished(monitor, n, 'bullmq adapter run');
      return { enqueueMs: t1 - t0, processMs: t3 - t2 };
    } finally {
      await broker.obliterate().catch(() => undefined);
      await broker.close();
    }
  });
}

async function redisReachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 2_000, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** deletes whatever this process left under its prefix; returns how many keys */
async function removeKeys(url: string, pattern: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  return removed;
}

async function benchBullmq(root: string): Promise<void> {
  console.log(`\n## 2. BullMQ broker vs plain BullMQ (same Redis, same job options)`);
  if (!(await redisReachable(REDIS_URL))) {
    console.log(`skipped: no Redis answers at ${REDIS_URL} (set REDIS_URL)`);
    return;
  }
  const basePrefix = `sbbench-${randomUUID().slice(0, 8)}`;
  const db = openDatabase({ dataDir: fs.mkdtempSync(path.join(root, 'bullmq-db-')) });
  try {
    // the exact options the broker gives a default job, reused for the plain BullMQ jobs
    const probe = new BullmqBroker({ url: REDIS_URL, prefix: `${basePrefix}-probe`, registry, db: db.db, services, logger });
    const jobOptions = probe.jobOptions({ priority: 0, delayMs: 0, attempts: DEFAULT_RETRY.attempts });
    await probe.close();
    const ctx: RedisCtx = { url: REDIS_URL, basePrefix, jobOptions, db };
    console.log(`N=${N} no-op jobs, concurrency ${CONCURRENCY}, addBulk/enqueueMany chunks of ${CHUNK}, ${RUNS} runs (median), Redis ${REDIS_URL}, prefix ${basePrefix}-*`);
    console.log(`job options (both sides): ${JSON.stringify(jobOptions)}`);

    // warm-up, not counted
    await rawBullmqRun(ctx, `${basePrefix}-warm-raw`, WARMUP_N);
    await adapterBullmqRun(ctx, `${basePrefix}-warm-adapter`, WARMUP_N);

    const raw: RunResult[] = [];
    const adapter: RunResult[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const order = run % 2 === 1 ? (['raw', 'adapter'] as const) : (['adapter', 'raw'] as const);
      for (const which of order) {
        if (which === 'raw') raw.push(await rawBullmqRun(ctx, `${basePrefix}-raw${run}`, N));
        else adapter.push(await adapterBullmqRun(ctx, `${basePrefix}-adapter${run}`, N));
      }
      const r = raw[run - 1]!;
      const a = adapter[run - 1]!;
      console.log(`  run ${run}: adapter ${fmtRate(rate(N, a.processMs))} jobs/s, raw ${fmtRate(rate(N, r.processMs))} jobs/s, time ratio ${(a.processMs / r.processMs).toFixed(3)}`);
    }

    const r = summarize(N, raw);
    const a = summarize(N, adapter);
    const timeRatios = raw.map((rr, i) => adapter[i]!.processMs / rr.processMs);
    console.log();
    console.log(
      table(
        ['bullmq (median)', 'adapter jobs/s', 'raw jobs/s', 'adapter time / raw time', 'overhead µs/job'],
        [
          ['enqueue', fmtRate(a.enqueue), fmtRate(r.enqueue), `${(r.enqueue / a.enqueue).toFixed(3)}`, fmtUs(overheadUs(a.enqueue, r.enqueue))],
          ['processing', fmtRate(a.process), fmtRate(r.process), `${(r.process / a.process).toFixed(3)}`, fmtUs(overheadUs(a.process, r.process))],
          ['end to end', fmtRate(a.endToEnd), fmtRate(r.endToEnd), `${(r.endToEnd / a.endToEnd).toFixed(3)}`, fmtUs(overheadUs(a.endToEnd, r.endToEnd))],
        ],
      ),
    );
    console.log(`processing time ratio adapter / raw per run: ${timeRatios.map((x) => x.toFixed(3)).join(', ')} (median ${median(timeRatios).toFixed(3)})`);
    console.log(`per-job cost (processing): adapter ${(1e6 / a.process).toFixed(1)} µs/job, raw ${(1e6 / r.process).toFixed(1)} µs/job`);
    // runs of a pair are adjacent in time, so the median of the paired ratios is the figure least hit by the machine's noise
    const ratio = median(timeRatios);
    console.log(
      `target adapter time / raw time <= 1.2 (processing): ${ratio <= 1.2 ? 'MET' : 'NOT MET'} (median of paired ratios ${ratio.toFixed(3)}; ratio of medians ${(r.process / a.process).toFixed(3)})`,
    );
  } finally {
    await db.close();
    const left = await removeKeys(REDIS_URL, `${basePrefix}*`);
    console.log(`redis cleanup: ${left} leftover key(s) under ${basePrefix}* removed`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`# bench:queue  node ${process.version}, ${os.availableParallelism()} CPU(s) (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-queue-'));
  try {
    if (ONLY === '' || ONLY === 'embedded') await benchEmbedded(root);
    if (ONLY === '' || ONLY === 'bullmq') await benchBullmq(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
