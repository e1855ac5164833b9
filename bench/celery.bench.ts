// Celery bridge throughput (`npm run bench:celery`): no-op tasks sent by a real Python Celery
// client, answered through the bridge, against Debian's Python Celery worker on the same Redis.
//
// Each contender consumes the Celery queue `bench`. A run: start the consumer, let it answer
// BENCH_WARMUP calls (unmeasured: connections, pools, and V8's optimising compiler, which needs a few
// thousand calls: after 500 the bridge still spent ~1.6x its steady CPU per task; Python has no
// JIT, Celery's rate does not depend on it), let the Python client publish N calls of
// `bench.noop` onto a list nobody consumes, then RENAME that list to `bench` (all N appear at once)
// and time until N SUCCESS results have been published on the result channels
// (PSUBSCRIBE celery-task-meta-*).
// - Celery: `python3 -m celery -A celery_bench_app worker` (test/fixtures), prefork pool with one
//   process per core, acks_late as the original worker, default prefetch.
// - Bridge (bullmq): the bridge on our BullMQ broker, as `soniquebay worker --celery` runs it.
// - Bridge (embedded): the bridge on the embedded SQLite broker.
// Every contender runs in processes of its own (this file re-runs itself for the bridge), so that
// the measuring process shares nothing with it but the machine.
// The no-op task lives in this file's registry, not in the production one. Figures are medians of
// BENCH_RUNS runs whose contenders alternate, and ratios to Celery measured in the same runs.
//
// Environment: BENCH_N (tasks per run, 5000), BENCH_WARMUP (3000), BENCH_RUNS (2), BENCH_CONCURRENCY (our no-op queue's
// concurrency, 32), BENCH_PREFETCH (messages the bridge holds, 256), BENCH_ONLY (bullmq | embedded),
// REDIS_URL (its server; the benchmark empties database 8 of it, before and after).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pino from 'pino';
import { z } from 'zod';
import { CeleryBridge } from '../src/broker/celery/bridge.js';
import { BullmqBroker } from '../src/broker/bullmq/broker.js';
import { EmbeddedBroker } from '../src/broker/embedded/broker.js';
import type { Broker } from '../src/broker/port.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open.js';
import { createServices } from '../src/services/index.js';
import { createRegistry, defineTask } from '../src/tasks/define.js';
import { fileURLToPath } from 'node:url';
import { CeleryClient, SYSTEM_PYTHON, celeryDatabaseUrl } from '../test/helpers/celery.js';
import { intEnv, median } from './helpers.js';

const N = intEnv('BENCH_N', 5_000);
const WARMUP = intEnv('BENCH_WARMUP', 3_000);
const RUNS = intEnv('BENCH_RUNS', 2);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 32);
const PREFETCH = intEnv('BENCH_PREFETCH', 256);
const ONLY = process.env.BENCH_ONLY ?? '';
const CELERY_DB = 8;
const URL = celeryDatabaseUrl(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', CELERY_DB);
const QUEUE = 'bench';
const STAGING = 'bench_staging';
const TASK = 'bench.noop';
const FIXTURES = path.resolve(import.meta.dirname, '../test/fixtures');
const SELF = fileURLToPath(import.meta.url);
/** set in the child process that runs a bridge */
const BRIDGE_KIND = process.env.BENCH_CELERY_BRIDGE as 'bullmq' | 'embedded' | undefined;
const RUN_TIMEOUT_MS = 120_000;

const logger = pino({ level: 'silent' });
const registry = createRegistry(
  [
    defineTask({
      name: TASK,
      queue: QUEUE,
      description: 'does nothing: measures the bridge, not the work',
      schema: z.object({}).strict(),
      timeoutMs: 30_000,
      handler: async () => null,
    }),
  ],
  { [QUEUE]: { concurrency: CONCURRENCY } },
);

interface Consumer {
  stop(): Promise<void>;
}

/** counts SUCCESS results as Celery's result channels announce them */
class ResultCounter {
  private readonly redis = new Redis(URL);
  private readonly done = new Set<string>();
  private waiting: { count: number; resolve: () => void } | null = null;

  async start(): Promise<void> {
    await this.redis.psubscribe('celery-task-meta-*');
    this.redis.on('pmessage', (_pattern, _channel, message: string) => {
      // this process shares the machine with the contenders: the other states (the bridge's
      // STARTED) are not parsed
      if (!message.includes('SUCCESS')) return;
      const meta = JSON.parse(message) as { status: string; task_id: string };
      if (meta.status !== 'SUCCESS') return;
      this.done.add(meta.task_id);
      if (this.waiting && this.done.size >= this.waiting.count) this.waiting.resolve();
    });
  }

  reset(): void {
    this.done.clear();
  }

  until(count: number): Promise<void> {
    if (this.done.size >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.done.size} of ${count} results after ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
      this.waiting = {
        count,
        resolve: () => {
          clearTimeout(timer);
          this.waiting = null;
          resolve();
        },
      };
    });
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** a contender's process; resolves once it printed `ready` (when asked to) or at once */
function spawnContender(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; ready?: string }): Promise<Consumer> {
  const child: ChildProcess = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${log}`)));
    if (!options.ready) return resolve({ stop });
    const check = () => {
      if (!log.includes(options.ready!)) return;
      child.stdout!.off('data', check);
      resolve({ stop });
    };
    child.stdout!.on('data', check);
  });
}

function startCelery(): Promise<Consumer> {
  const args = ['-m', 'celery', '-A', 'celery_bench_app', 'worker', '-Q', QUEUE, '--concurrency', String(os.availableParallelism()), '--loglevel', 'warning', '--without-gossip', '--without-mingle', '--without-heartbeat'];
  return spawnContender(SYSTEM_PYTHON, args, { cwd: FIXTURES, env: { ...process.env, CELERY_BROKER_URL: URL, CELERY_RESULT_BACKEND: URL } });
}

function startBridge(kind: 'bullmq' | 'embedded'): Promise<Consumer> {
  return spawnContender(process.execPath, ['--import', 'tsx', SELF], { env: { ...process.env, BENCH_CELERY_BRIDGE: kind }, ready: 'ready' });
}

/** the child process of a bridge contender: worker and bridge until SIGTERM */
async function runBridge(kind: 'bullmq' | 'embedded'): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-celery-'));
  const database = openDatabase({ dataDir: dir });
  const services = createServices({ ...loadConfig({}), dataDir: dir, outsideLookups: false });
  const common = { registry, db: database.db, services, logger };
  const broker: Broker =
    kind === 'bullmq' ? new BullmqBroker({ ...common, url: URL, prefix: 'sbbench' }) : await EmbeddedBroker.open({ ...common, file: path.join(dir, 'soniquebay.db') });
  const worker = await broker.startWorker();
  const bridge = await CeleryBridge.start({ broker, registry, logger, brokerUrl: URL, resultUrl: URL, queues: [QUEUE], prefetch: PREFETCH, leaseMs: 30_000, resultExpiresSeconds: 3_600, keyPrefix: 'sbbench:celery' });
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void (async () => {
      await bridge.close();
      await worker.close();
      if (broker instanceof BullmqBroker) await broker.obliterate();
      await broker.close();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
}

/** tasks per second for one contender */
async function measure(start: () => Promise<Consumer>, client: CeleryClient, results: ResultCounter, redis: Redis): Promise<number> {
  const consumer = await start();
  try {
    results.reset();
    await client.bulk(TASK, WARMUP, QUEUE);
    await results.until(WARMUP);
    await client.bulk(TASK, N, STAGING);
    results.reset();
    const t0 = performance.now();
    await redis.rename(STAGING, QUEUE);
    await results.until(N);
    return N / ((performance.now() - t0) / 1000);
  } finally {
    await consumer.stop();
  }
}

if (BRIDGE_KIND) await runBridge(BRIDGE_KIND);
else await main();

async function main(): Promise<void> {
  const contenders: { name: string; start: () => Promise<Consumer> }[] = [
    { name: 'Python Celery worker', start: startCelery },
    ...(ONLY === '' || ONLY === 'bullmq' ? [{ name: 'bridge (bullmq)', start: () => startBridge('bullmq') }] : []),
    ...(ONLY === '' || ONLY === 'embedded' ? [{ name: 'bridge (embedded)', start: () => startBridge('embedded') }] : []),
  ];

  const redis = new Redis(URL);
  await redis.flushdb();
  const results = new ResultCounter();
  await results.start();
  const client = new CeleryClient(URL, URL);
  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const ratios = new Map<string, number[]>();
  try {
    process.stdout.write(`Celery bridge benchmark: ${N} no-op tasks per run (after ${WARMUP} unmeasured), ${RUNS} run(s), bridge prefetch ${PREFETCH}, no-op concurrency ${CONCURRENCY}, ${os.availableParallelism()} cores\n`);
    for (let run = 1; run <= RUNS; run++) {
      const order = run % 2 === 1 ? contenders : [...contenders].reverse();
      const thisRun = new Map<string, number>();
      for (const contender of order) {
        const rate = await measure(contender.start, client, results, redis);
        thisRun.set(contender.name, rate);
        rates.get(contender.name)!.push(rate);
        process.stdout.write(`  run ${run}: ${contender.name.padEnd(22)} ${rate.toFixed(0).padStart(6)} tasks/s\n`);
      }
      const baseline = thisRun.get(contenders[0]!.name)!;
      for (const contender of contenders.slice(1)) ratios.set(contender.name, [...(ratios.get(contender.name) ?? []), thisRun.get(contender.name)! / baseline]);
    }
    // the figures move with other work on the machine (the ratio too): shown to compare runs
    process.stdout.write(`\nmedians (load average ${os.loadavg()[0]!.toFixed(1)} at the end):\n`);
    for (const contender of contenders) {
      const ratio = ratios.get(contender.name);
      process.stdout.write(`  ${contender.name.padEnd(22)} ${median(rates.get(contender.name)!).toFixed(0).padStart(6)} tasks/s${ratio ? `   ${median(ratio).toFixed(2)}x Celery` : ''}\n`);
    }
  } finally {
    client.close();
    results.close();
    await redis.flushdb();
    redis.disconnect();
  }
}
