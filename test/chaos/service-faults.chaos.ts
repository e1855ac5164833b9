// Service faults on the distributed runtime, against a Redis and a PostgreSQL of the test's own
// (started here, so that restarting them disturbs nobody): Redis restarted mid-scan, PostgreSQL
// restarted mid-batch, a worker frozen with SIGSTOP past the lock timeout while another takes
// over. Every time the scan completes and the library equals a run without faults.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { loadConfig } from '../../src/config.js';
import type { ScanTable } from '../../src/db/types.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ensureRoot, getScan } from '../../src/workers/scan/sessions.js';
import { testLogger } from '../helpers/brokers.js';
import { killHard, libraryPicture, queuesIdle, referencePicture, startCli, type CliProcess } from '../helpers/chaos.js';

const PG_VERSION = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql').sort().at(-1) : undefined;
const canRun = process.getuid?.() === 0 && Boolean(PG_VERSION) && hasCommand('redis-server') && hasCommand('pg_createcluster');
const skip = canRun ? false : process.env.CI === 'true' ? false : 'needs root, redis-server and PostgreSQL (pg_createcluster) to run private servers';
const LOCK_MS = 2_000;

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A Redis of our own that persists its queues (appendonly, as docker-compose.yml runs it). */
class PrivateRedis {
  private process: ChildProcess | undefined;
  constructor(readonly port: number, private readonly dir: string) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start() {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    await waitFor(() => connects(this.port), 'redis to accept connections');
  }
  /** a clean restart (SIGTERM, as `docker compose restart` does), down for `downMs` */
  async restart(downMs: number) {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }
  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/** A PostgreSQL cluster of our own (pg_createcluster), trusted on loopback. */
class PrivateCluster {
  readonly name = `sbchaos${process.pid}`;
  constructor(readonly port: number) {}
  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }
  async create() {
    execFileSync('pg_createcluster', [PG_VERSION!, this.name, '-p', String(this.port), '--start', '--', '--auth-host=trust', '--auth-local=trust'], { stdio: 'ignore' });
    await waitFor(() => connects(this.port), 'postgresql to accept connections');
  }
  /** `pg_ctlcluster restart -m fast`: every connection is cut, the server is down for a moment */
  restart() {
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', PG_VERSION!, this.name, 'restart', '-m', 'fast'], { stdio: 'ignore' });
  }
  drop() {
    execFileSync('pg_dropcluster', ['--stop', PG_VERSION!, this.name], { stdio: 'ignore' });
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (await check()) return;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('service faults (distributed runtime, private Redis and PostgreSQL)', { skip }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let reference: Awaited<ReturnType<typeof libraryPicture>>;
  let redis: PrivateRedis;
  let cluster: PrivateCluster;
  const baseEnv = { ...process.env, SONIQUEBAY_OUTSIDE_LOOKUPS: 'false', SONIQUEBAY_LOG_LEVEL: 'info', SONIQUEBAY_LOCK_MS: String(LOCK_MS), SONIQUEBAY_ANALYSIS_THREADS: '1' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-faults-'));
    manifest = await generateLibrary({ tracks: 150, out: path.join(dir, 'music'), maxFfmpegTracks: 4, seconds: 2 });
    reference = await referencePicture({ ...baseEnv, SONIQUEBAY_DATA_DIR: path.join(dir, 'reference') }, manifest.root);
    fs.mkdirSync(path.join(dir, 'redis'));
    redis = new PrivateRedis(await freePort(), path.join(dir, 'redis'));
    await redis.start();
    cluster = new PrivateCluster(await freePort());
    await cluster.create();
  });
  after(async () => {
    await redis?.stop();
    try {
      cluster?.drop();
    } catch {
      // never created
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** a database and key prefix of the test's own on the private servers; workers started with `workers` */
  async function place(): Promise<{ env: NodeJS.ProcessEnv; runtime: Runtime; close(): Promise<void> }> {
    const name = `sb_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const env = {
      ...baseEnv,
      SONIQUEBAY_DATA_DIR: path.join(dir, name),
      SONIQUEBAY_BROKER_URL: redis.url,
      SONIQUEBAY_DATABASE_URL: cluster.url.replace(/\/postgres$/, `/${name}`),
      SONIQUEBAY_REDIS_PREFIX: name,
    };
    const runtime = await openRuntime(loadConfig(env), testLogger);
    return { env, runtime, close: () => runtime.close() };
  }

  async function startScan(runtime: Runtime): Promise<string> {
    const root = await ensureRoot(runtime.database.db, manifest.root);
    const scanId = randomUUID();
    await runtime.broker.enqueue('scan.discovery', { root: root.path, scanId }, { jobId: `scan-${scanId}` });
    return scanId;
  }

  /** polls the scan through faults (a query may fail while a server restarts) */
  async function waitScan(runtime: Runtime, scanId: string, until: (s: ScanTable) => boolean, logs: () => string, timeoutMs = 180_000): Promise<ScanTable> {
    for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
      const current = await getScan(runtime.database.db, scanId).catch(() => undefined);
      if (current && until(current)) return current;
      assert.ok(Date.now() < deadline, `scan did not get there: ${JSON.stringify(current)}\n${logs().slice(-4000)}`);
    }
  }

  async function finish(runtime: Runtime, scanId: string, workers: CliProcess[]): Promise<void> {
    const logs = () => workers.map((w) => w.log()).join('\n---\n');
    const done = await waitScan(runtime, scanId, (s) => s.status !== 'running', logs);
    assert.equal(done.status, 'completed', `${done.last_error}\n${logs().slice(-4000)}`);
    await queuesIdle(runtime.broker, 60_000).catch((err: Error) => assert.fail(`${err.message}\n${logs().slice(-6000)}`));
    for (const worker of workers) assert.equal(worker.child.exitCode, null, `a worker died:\n${worker.log().slice(-4000)}`);
    const failed = await runtime.broker.listJobs({ state: 'failed', limit: 100 });
    assert.deepEqual(failed.map((j) => `${j.name}: ${j.error}`), [], 'no job failed for good');
    assert.deepEqual(await libraryPicture(runtime.database.db), reference);
  }

  it('Redis restarted mid-scan: the scan completes, nothing lost or duplicated', { timeout: 300_000 }, async () => {
    const { env, runtime, close } = await place();
    const worker = startCli(['worker', '--no-schedules'], env);
    try {
      await worker.logged('worker started');
      const scanId = await startScan(runtime);
      await waitScan(runtime, scanId, (s) => s.extracted > 0, worker.log);
      await redis.restart(1_500);
      await finish(runtime, scanId, [worker]);
      console.log('# Redis restarted mid-scan (down 1.5 s): survived, 0 lost, 0 duplicated');
    } finally {
      await killHard(worker);
      await close();
    }
  });

  it('PostgreSQL restarted mid-batch: the scan completes, nothing lost or duplicated', { timeout: 300_000 }, async () => {
    const { env, runtime, close } = await place();
    const worker = startCli(['worker', '--no-schedules'], env);
    try {
      await worker.logged('worker started');
      const scanId = await startScan(runtime);
      await waitScan(runtime, scanId, (s) => s.batches_done > 0, worker.log);
      cluster.restart();
      await finish(runtime, scanId, [worker]);
      console.log('# PostgreSQL restarted mid-batch (fast shutdown): survived, 0 lost, 0 duplicated');
    } finally {
      await killHard(worker);
      await close();
    }
  });

  it('a worker frozen (SIGSTOP) past the lock timeout: another takes its jobs; thawed, it duplicates nothing', { timeout: 300_000 }, async () => {
    const { env, runtime, close } = await place();
    const frozen = startCli(['worker', '--no-schedules'], env);
    const other = startCli(['worker', '--no-schedules'], env);
    try {
      await Promise.all([frozen.logged('worker started'), other.logged('worker started')]);
      const scanId = await startScan(runtime);
      await waitScan(runtime, scanId, (s) => s.extracted > 0, frozen.log);
      frozen.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, LOCK_MS * 3));
      frozen.child.kill('SIGCONT');
      await finish(runtime, scanId, [frozen, other]);
      console.log(`# worker frozen ${(LOCK_MS * 3) / 1000} s (lock ${LOCK_MS / 1000} s): survived, 0 lost, 0 duplicated`);
    } finally {
      await killHard(frozen);
      await killHard(other);
      await close();
    }
  });
});
