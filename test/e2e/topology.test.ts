// The distributed topology as deployed (docker-compose.yml), without Docker: an API process and
// two worker processes split by queue, on Redis and PostgreSQL, started as a user starts them
// (the soniquebay command). A scan started through the API ends with the same library as the
// embedded runtime gives for the same files, and a periodic task fires once per tick although both
// workers run the scheduler.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/types.js';
import { openRuntime } from '../../src/runtime.js';
import { databaseUrl, redisUrl, testLogger } from '../helpers/brokers.js';
import { distributedTestPlace, drain, scan } from '../helpers/runtimes.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const enabled = Boolean(redisUrl() && databaseUrl());

/** what a scan leaves in the library, independent of ids */
async function librarySummary(db: Db) {
  const tracks = await db.selectFrom('tracks').innerJoin('artists', 'artists.id', 'tracks.artist_id').select(['tracks.path', 'tracks.title', 'artists.name']).orderBy('tracks.path').execute();
  const albums = await db.selectFrom('albums').select('album_key').orderBy('album_key').execute();
  const genres = await db.selectFrom('genres').select('name').orderBy('name').execute();
  const errors = await db.selectFrom('scan_errors').select('path').orderBy('path').execute();
  return { tracks, albums: albums.map((a) => a.album_key.replace(/\|\d+$/, '')), genres: genres.map((g) => g.name), errors: errors.map((e) => e.path) };
}

describe('distributed topology: API + 2 workers on Redis and PostgreSQL', { skip: enabled ? false : 'needs REDIS_URL and DATABASE_URL' }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let place: Awaited<ReturnType<typeof distributedTestPlace>>;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  let api = '';

  const logs: string[] = [];
  const start = (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const i = logs.push('') - 1;
    child.stdout!.on('data', (chunk: Buffer) => (logs[i] += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (logs[i] += chunk.toString()));
    children.push(child);
    return child;
  };
  /** resolves once every child process has logged `text` */
  const allLogged = async (text: string) => {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      if (logs.every((l) => l.includes(text) || l.includes('HTTP API listening'))) return;
    }
    throw new Error(`processes did not log "${text}":\n${logs.join('\n---\n')}`);
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-topo-'));
    manifest = await generateLibrary({ tracks: 120, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
    place = await distributedTestPlace();
    const config = path.join(dir, 'config.json');
    // the health report every second, to count its firings per tick
    fs.writeFileSync(config, JSON.stringify({ schedules: { 'health-report': { cron: '* * * * * *' } } }));
    env = {
      ...process.env,
      SONIQUEBAY_CONFIG: config,
      SONIQUEBAY_DATA_DIR: path.join(dir, 'data'),
      SONIQUEBAY_DATABASE_URL: place.databaseUrl,
      SONIQUEBAY_BROKER_URL: redisUrl()!,
      SONIQUEBAY_REDIS_PREFIX: place.prefix,
      SONIQUEBAY_LIBRARY_ROOTS: manifest.root,
      SONIQUEBAY_ANALYSIS: 'false',
      SONIQUEBAY_OUTSIDE_LOOKUPS: 'false',
      SONIQUEBAY_LOG_LEVEL: 'info',
    };
    start(['serve', '--port', '0']);
    start(['worker', '--queues', 'scan,extract,batch,deferred,maintenance']);
    start(['worker', '--queues', 'metadata,covers,vectorization']);
    await allLogged('worker started');
    api = /"address":"(http:\/\/[^"]+)"/.exec(logs[0]!)![1]!;
  });

  after(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await place.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scans through the API into the same library as the embedded runtime', async () => {
    const started = await fetch(`${api}/scans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ root: manifest.root }) });
    assert.equal(started.status, 202, await started.clone().text());
    const { scanId } = (await started.json()) as { scanId: string };
    let status: string | undefined;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
      // 404 until a worker has started the scan session
      status = ((await (await fetch(`${api}/scans/${scanId}`)).json()) as { status?: string }).status;
      if (status !== undefined && status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 'completed', logs.join('\n---\n').slice(-3000));

    const distributed = await openRuntime({ ...loadConfig(env), brokerUrl: undefined }, testLogger);
    const embedded = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'embedded'), analysis: false, outsideLookups: false }, testLogger);
    try {
      await scan(embedded, manifest.root);
      await drain(embedded.broker);
      const a = await librarySummary(distributed.database.db);
      const b = await librarySummary(embedded.database.db);
      assert.equal(a.tracks.length + a.errors.length, manifest.files.length);
      assert.deepEqual(a, b);
    } finally {
      await distributed.close();
      await embedded.close();
    }
  });

  it('mounts Bull Board for the queue internals', async () => {
    const board = await fetch(`${api}/board/`);
    assert.equal(board.status, 200);
    assert.match(await board.text(), /<html/i);
    const queues = (await (await fetch(`${api}/board/api/queues`)).json()) as { queues: { name: string }[] };
    assert.ok(queues.queues.some((q) => q.name === 'scan'));
  });

  it('fires a periodic task once per tick although two workers run the scheduler', async () => {
    const jobs = async () => {
      const runtime = await openRuntime({ ...loadConfig(env) }, testLogger);
      try {
        return (await runtime.broker.listJobs({ queue: 'maintenance', state: 'completed', limit: 1000 })).filter((j) => j.name === 'maintenance.health_report');
      } finally {
        await runtime.close();
      }
    };
    const first = (await jobs()).length;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const fired = (await jobs()).length - first;
    const ticks = (Date.now() - t0) / 1000;
    assert.ok(fired >= Math.floor(ticks) - 2 && fired <= Math.ceil(ticks) + 1, `${fired} firings in ${ticks.toFixed(1)} s with two schedulers\n${logs.join('\n---\n').slice(-3000)}`);
  });
});
