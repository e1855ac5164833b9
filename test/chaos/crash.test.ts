// Crash tests: a worker process is killed with SIGKILL at random moments of a scan (walk, tag
// reading, the single writer, covers, analysis, vectors), restarted each time, and the final
// library must be exactly the one a run without crashes gives: every file one track or one error
// row, no duplicate artist/album/genre/link/cover/vector, every scan session completed, no job
// lost. npm test kills 3 times per runtime; `npm run test:chaos` (SB_CHAOS=full) 12 times.
// The same with SIGTERM: each stop must end the process cleanly within the grace period, with no
// half-written batch in the database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { seededRandom } from '../../scripts/random.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ensureRoot } from '../../src/workers/scan/sessions.js';
import { databaseUrl, redisUrl, testLogger } from '../helpers/brokers.js';
import { activeQueues, FULL_CHAOS, killHard, libraryPicture, referencePicture, queuesIdle, startCli, type CliProcess } from '../helpers/chaos.js';
import { distributedTestPlace } from '../helpers/runtimes.js';

const KILLS = FULL_CHAOS ? 12 : 3;
const SEED = Number(process.env.SB_CHAOS_SEED ?? Date.now() % 100_000);

interface Place {
  name: string;
  env(dataDir: string): Promise<{ env: NodeJS.ProcessEnv; cleanup(): Promise<void> }>;
}

const places: Place[] = [{ name: 'embedded (SQLite)', env: async (dataDir) => ({ env: { SONIQUEBAY_DATA_DIR: dataDir }, cleanup: async () => undefined }) }];
if (redisUrl() && databaseUrl()) {
  places.push({
    name: 'distributed (BullMQ + PostgreSQL)',
    async env(dataDir) {
      const place = await distributedTestPlace();
      return {
        env: { SONIQUEBAY_DATA_DIR: dataDir, SONIQUEBAY_BROKER_URL: redisUrl()!, SONIQUEBAY_DATABASE_URL: place.databaseUrl, SONIQUEBAY_REDIS_PREFIX: place.prefix },
        cleanup: place.cleanup,
      };
    },
  });
}

describe(`crash and stop tests (seed ${SEED})`, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let reference: Awaited<ReturnType<typeof libraryPicture>>;
  const baseEnv = {
    ...process.env,
    SONIQUEBAY_OUTSIDE_LOOKUPS: 'false',
    SONIQUEBAY_LOG_LEVEL: 'info',
    // a killed worker's jobs are taken back after this lease
    SONIQUEBAY_LOCK_MS: '2000',
    SONIQUEBAY_ANALYSIS_THREADS: '1',
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-crash-'));
    manifest = await generateLibrary({ tracks: FULL_CHAOS ? 400 : 150, out: path.join(dir, 'music'), maxFfmpegTracks: 4, seconds: 2 });
    // the library a run without crashes gives
    reference = await referencePicture({ ...baseEnv, SONIQUEBAY_DATA_DIR: path.join(dir, 'reference') }, manifest.root);
    assert.equal(reference.tracks.length + reference.errors.length, manifest.files.length);
    assert.ok(reference.analysed > 0 && reference.vectors > 0 && reference.covers.length > 0, 'the reference run reached every stage');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** tracks a batch write left half-done: a track without its artist link or album */
  async function halfWritten(db: Runtime['database']['db']): Promise<string[]> {
    const unlinked = await db
      .selectFrom('tracks')
      .leftJoin('track_artists', 'track_artists.track_id', 'tracks.id')
      .where((eb) => eb.or([eb('track_artists.track_id', 'is', null), eb('tracks.album_id', 'is', null)]))
      .select('tracks.path')
      .execute();
    return unlinked.map((t) => t.path);
  }

  const modes = [
    { signal: 'SIGKILL' as const, stops: KILLS, places },
    // graceful: each stop must end the process cleanly within the grace period
    { signal: 'SIGTERM' as const, stops: FULL_CHAOS ? 8 : 2, places: FULL_CHAOS ? places : places.slice(0, 1) },
  ];
  for (const mode of modes) {
    for (const place of mode.places) {
      it(`${place.name}: survives ${mode.stops} ${mode.signal}s at random moments and ends with the same library`, { timeout: 600_000 }, async () => {
        const random = seededRandom(SEED);
        const made = await place.env(path.join(dir, `data-${randomUUID().slice(0, 6)}`));
        // Up to 12 kills in a minute can all land on one long analysis batch, which the default
        // poison guard (5 losses, then failed) would fail: that guard is a choice, not a loss
        const env = { ...baseEnv, ...made.env, SONIQUEBAY_SHUTDOWN_GRACE_MS: '5000', SONIQUEBAY_MAX_STALLED: String(mode.stops + 1) };
        const runtime: Runtime = await openRuntime(loadConfig(env), testLogger);
        let worker: CliProcess | undefined;
        const interrupted: string[] = [];
        try {
          const { db } = runtime.database;
          const root = await ensureRoot(db, manifest.root);
          const scanIds: string[] = [];
          const startScan = async (full: boolean) => {
            const scanId = randomUUID();
            scanIds.push(scanId);
            await runtime.broker.enqueue('scan.discovery', { root: root.path, scanId, ...(full ? { full: true } : {}) }, { jobId: `scan-${scanId}` });
          };
          await startScan(false);
          while (interrupted.length < mode.stops) {
            worker = startCli(['worker', '--no-schedules'], env);
            await worker.logged('worker started');
            // squared: most stops land in the first second, where walk, tag reading and writes happen
            await new Promise((r) => setTimeout(r, 150 + random() ** 2 * 2_500));
            if ((await activeQueues(runtime.broker)).length === 0) {
              // idle: the work ran out before the stops did; a full rescan gives the next ones work
              await startScan(true);
              await new Promise((r) => setTimeout(r, 50 + random() ** 2 * 1_000));
            }
            const now = await activeQueues(runtime.broker);
            if (mode.signal === 'SIGKILL') await killHard(worker);
            else {
              const asked = Date.now();
              worker.child.kill('SIGTERM');
              assert.equal(await worker.exited(), 0, `a SIGTERM must end the worker cleanly:\n${worker.log().slice(-3000)}`);
              assert.ok(Date.now() - asked < 5_000 + 10_000, `the worker took ${Date.now() - asked} ms to stop (grace 5 s)`);
              assert.deepEqual(await halfWritten(db), [], 'a stop never leaves a half-written batch');
            }
            interrupted.push(now.join('+') || 'idle');
          }
          worker = startCli(['worker', '--no-schedules'], env);
          await worker.logged('worker started');
          const deadline = Date.now() + 300_000;
          for (;;) {
            const scans = await db.selectFrom('scans').select(['id', 'status']).where('id', 'in', scanIds).execute();
            if (scans.length === scanIds.length && scans.every((s) => s.status !== 'running')) {
              assert.deepEqual(scans.map((s) => s.status), scanIds.map(() => 'completed'), 'every scan session completed');
              break;
            }
            assert.ok(Date.now() < deadline, `scans still running: ${JSON.stringify(scans)}\n${worker.log().slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 200));
          }
          await queuesIdle(runtime.broker, 300_000);
          worker.child.kill('SIGTERM');
          assert.equal(await worker.exited(), 0, worker.log().slice(-2000));

          const failed = await runtime.broker.listJobs({ state: 'failed', limit: 100 });
          assert.deepEqual(failed.map((j) => `${j.name}: ${j.error}`), [], 'no job failed for good');
          assert.deepEqual(await libraryPicture(db), reference);
          console.log(`# ${place.name}: ${interrupted.length} ${mode.signal}s survived, interrupted stages: ${interrupted.join(', ')}; ${manifest.files.length} files, 0 lost, 0 duplicated`);
        } finally {
          if (worker) await killHard(worker);
          await runtime.close();
          await made.cleanup();
        }
      });
    }
  }
});
