// Who writes a scan's batches: an extract job whose worker also takes the batch queue writes its
// batch itself (no batch job, no payload stored); a worker taking only extract jobs queues the
// batch for the writers; a write that fails in the extract job goes to the batch queue, which
// retries it, and no file is lost. On both runtimes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { getScan } from '../../src/workers/scan/sessions.js';
import { testLogger } from '../helpers/brokers.js';
import { runtimeSetups } from '../helpers/runtimes.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

const errorCount = async (runtime: Runtime) => Number((await runtime.database.db.selectFrom('scan_errors').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const trackCount = async (runtime: Runtime) => Number((await runtime.database.db.selectFrom('tracks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const batchJobs = async (runtime: Runtime) => Object.values((await runtime.broker.counts()).batch ?? {}).reduce((n, c) => n + c, 0);

for (const setup of runtimeSetups) {
  describe(`batches written by their extract job: ${setup.name}`, () => {
    let dir: string;
    let manifest: FixtureManifest;
    /** tracks of the all-queues scan: the other two must write the same */
    let written = 0;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-writer-'));
      manifest = await generateLibrary({ tracks: 120, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    async function withRuntime(name: string, body: (runtime: Runtime) => Promise<void>): Promise<void> {
      const { config, cleanup } = await setup.config(path.join(dir, name));
      const runtime = await openRuntime({ ...config, analysis: false, libraryRoots: [manifest.root] }, testLogger);
      try {
        await body(runtime);
      } finally {
        await runtime.close();
        await cleanup();
      }
    }

    it('a worker taking every queue writes each batch in its extract job: no batch job at all', async () => {
      await withRuntime('all', async (runtime) => {
        const worker = await runtime.broker.startWorker({ queues: ['scan', 'extract', 'batch'] });
        const scanId = randomUUID();
        await runtime.broker.enqueue('scan.discovery', { root: manifest.root, scanId });
        await until(async () => (await getScan(runtime.database.db, scanId))?.status === 'completed', 'the scan');
        await worker.close();
        written = await trackCount(runtime);
        assert.ok(written >= manifest.files.filter((f) => f.expect === 'track').length, `${written} tracks`);
        assert.equal(written + (await errorCount(runtime)), manifest.files.length, 'every file a track or an error row');
        assert.equal(await batchJobs(runtime), 0, 'batch jobs queued');
        const extracts = await runtime.broker.listJobs({ queue: 'extract', state: 'completed', limit: 100 });
        assert.ok(extracts.length >= 2, `${extracts.length} extract jobs`);
        const inserted = extracts.reduce((n, job) => n + ((job.result as { written?: { inserted: number } }).written?.inserted ?? 0), 0);
        assert.equal(inserted, written, 'the extract jobs report what they wrote');
      });
    });

    it('a worker taking extract jobs only queues its batches for a writer', async () => {
      await withRuntime('split', async (runtime) => {
        const reader = await runtime.broker.startWorker({ queues: ['scan', 'extract'] });
        const scanId = randomUUID();
        await runtime.broker.enqueue('scan.discovery', { root: manifest.root, scanId });
        await until(async () => (await runtime.broker.counts()).extract!.completed >= 2 && (await runtime.broker.pending('extract')) === 0 && (await runtime.broker.pending('scan')) === 0, 'the extract jobs');
        assert.equal(await trackCount(runtime), 0, 'nothing written without a writer');
        assert.ok((await runtime.broker.pending('batch')) >= 2, 'the batches wait in their queue');
        await reader.close();
        const writer = await runtime.broker.startWorker({ queues: ['batch'] });
        await until(async () => (await getScan(runtime.database.db, scanId))?.status === 'completed', 'the scan');
        await writer.close();
        assert.equal(await trackCount(runtime), written);
      });
    });

    it('a batch its extract job could not write goes to the batch queue, which retries it: nothing lost', async () => {
      await withRuntime('failing', async (runtime) => {
        const db = runtime.database.db;
        // every track insert fails until the test lifts it
        if (runtime.database.dialect === 'sqlite') {
          await sql`CREATE TRIGGER refuse_tracks BEFORE INSERT ON tracks BEGIN SELECT RAISE(ABORT, 'planned write failure'); END`.execute(db);
        } else {
          await sql`CREATE FUNCTION refuse_tracks() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'planned write failure'; END $$ LANGUAGE plpgsql`.execute(db);
          await sql`CREATE TRIGGER refuse_tracks BEFORE INSERT ON tracks FOR EACH ROW EXECUTE FUNCTION refuse_tracks()`.execute(db);
        }
        const worker = await runtime.broker.startWorker({ queues: ['scan', 'extract', 'batch'] });
        const scanId = randomUUID();
        await runtime.broker.enqueue('scan.discovery', { root: manifest.root, scanId });
        await until(async () => (await runtime.broker.pending('extract')) === 0 && (await runtime.broker.pending('scan')) === 0 && (await batchJobs(runtime)) >= 2, 'the batches handed to the batch queue');
        const extracts = await runtime.broker.listJobs({ queue: 'extract', state: 'completed', limit: 100 });
        assert.ok(extracts.every((job) => (job.result as { written?: unknown }).written === undefined), 'no extract job wrote');
        assert.equal(await trackCount(runtime), 0);
        await sql`DROP TRIGGER refuse_tracks${runtime.database.dialect === 'sqlite' ? sql`` : sql` ON tracks`}`.execute(db);
        await until(async () => (await getScan(db, scanId))?.status === 'completed', 'the scan, once the batch queue retried');
        await worker.close();
        assert.equal(await trackCount(runtime), written);
        assert.equal(await errorCount(runtime), manifest.files.length - written, 'no file turned into an error');
      });
    });
  });
}
