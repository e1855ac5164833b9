// Two batches naming the same artists, albums and genres, written at the same time: no unique
// violation surfaces and nothing is duplicated, on SQLite and on PostgreSQL. A batch whose worker
// died after its commit runs again and queues the follow-ups the first run could not.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import type { TaskContext } from '../../src/tasks/define.js';
import { processEntities } from '../../src/workers/scan/batch_processor.js';
import type { ExtractedTrack } from '../../src/workers/scan/extracted.js';
import { ensureRoot, startScan } from '../../src/workers/scan/sessions.js';
import { databaseUrl, testLogger, testServices } from '../helpers/brokers.js';

function item(root: string, n: number, artist: string, album: string, genre: string): ExtractedTrack {
  return {
    path: path.join(root, `f${n}.mp3`), size: 1000 + n, mtimeMs: 1_700_000_000_000, format: 'MPEG', codec: 'MPEG 1 Layer 3', lossless: false,
    duration: 180, bitrate: 128000, sampleRate: 44100, channels: 2, bitDepth: null, title: `Track ${n}`, artists: [artist], artistDisplay: artist,
    albumArtists: [], album, discNo: 1, discTotal: 1, trackNo: n, trackTotal: 20, year: 2001, date: null, originalDate: null, genres: [genre],
    composer: null, label: null, isrc: null, mbTrackId: null, mbRecordingId: null, mbAlbumId: null, mbArtistIds: [], mbAlbumArtistIds: [],
    mbReleaseGroupId: null, compilation: false, rgTrackGain: null, rgTrackPeak: null, rgAlbumGain: null, rgAlbumPeak: null, hasLyrics: false,
    pictureHash: null, bpm: null, key: null, abTags: {}, fallbacks: [],
  };
}

function context(handle: DatabaseHandle): TaskContext {
  return {
    db: handle.db, services: testServices(os.tmpdir()), log: testLogger, jobId: 'batch:test', taskName: 'batch.process_entities', attempt: 1,
    progress: async () => undefined, enqueue: async (name) => ({ id: 'x:1', name, queue: 'x' }), jobs: { counts: async () => ({}), prune: async () => 0 }, signal: new AbortController().signal,
  };
}

async function race(handle: DatabaseHandle): Promise<void> {
  await migrateToLatest(handle.db, handle.dialect);
  const root = '/music/race';
  await ensureRoot(handle.db, root);
  // the same artist/album/genre spelled differently in each batch
  const a = Array.from({ length: 30 }, (_, i) => item(root, i, 'Van Halen', 'Balance', 'Rock'));
  const b = Array.from({ length: 30 }, (_, i) => item(root, 100 + i, 'VAN HALEN', 'balance', 'rock'));
  const ctx = context(handle);
  const results = await Promise.all([processEntities({ items: a, errors: [] }, ctx), processEntities({ items: b, errors: [] }, ctx), processEntities({ items: a, errors: [] }, ctx)]);
  assert.equal(results[0]!.inserted + results[1]!.inserted + results[2]!.inserted, 60);
  const count = async (table: 'artists' | 'albums' | 'genres' | 'tracks') => Number((await handle.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  assert.deepEqual([await count('artists'), await count('albums'), await count('genres'), await count('tracks')], [1, 1, 1, 60]);
}

describe('concurrent batches', () => {
  it('write one artist, album and genre on SQLite', async () => {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-race-')) });
    try {
      await race(handle);
    } finally {
      await handle.close();
    }
  });

  it('write one artist, album and genre on PostgreSQL', { skip: databaseUrl() ? false : 'DATABASE_URL not set' }, async () => {
    const schema = `sbrace_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(databaseUrl()!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const handle = openDatabase({ dataDir: os.tmpdir(), databaseUrl: url.toString() });
    try {
      await race(handle);
    } finally {
      await handle.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});

describe('a batch run again after its commit', () => {
  it('queues the covers, analysis, enrichment, album and artist work its first run died before queueing', async () => {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-replay-')) });
    try {
      await migrateToLatest(handle.db, handle.dialect);
      const root = await ensureRoot(handle.db, '/music/replay');
      const scanId = randomUUID();
      await startScan(handle.db, { rootId: root.id, rootPath: root.path, scanId, full: false });
      const payload = { scanId, batchNo: 0, items: [item(root.path, 1, 'Nina Simone', 'Pastel Blues', 'Jazz'), item(root.path, 2, 'Nina Simone', 'Pastel Blues', 'Jazz')], errors: [] };
      // the first run commits, then its worker dies while queueing: nothing reaches the queue
      await processEntities(payload, { ...context(handle), enqueue: () => Promise.reject(new Error('the worker died')) });
      const queued: { name: string; payload: Record<string, number[]> }[] = [];
      const ctx: TaskContext = { ...context(handle), enqueue: async (name, body) => (queued.push({ name, payload: body as Record<string, number[]> }), { id: 'x:1', name, queue: 'x' }) };
      const again = await processEntities(payload, ctx);
      assert.equal(again.duplicateBatch, true, 'the batch is counted once');
      const tracks = (await handle.db.selectFrom('tracks').select('id').orderBy('id').execute()).map((t) => t.id);
      const album = await handle.db.selectFrom('albums').select(['id', 'album_artist_id']).executeTakeFirstOrThrow();
      assert.deepEqual(
        queued.map((q) => [q.name, Object.values(q.payload)[0]]),
        [
          ['covers.extract_embedded_covers_batch', tracks],
          ['metadata.analyze_audio_batch', tracks],
          ['metadata.enrich_tracks_batch', tracks],
          ['covers.process_album_covers', [album.id]],
          ['covers.extract_artist_images_batch', [album.album_artist_id]],
        ],
      );
      // once the work has started, a third run queues nothing again
      await handle.db.updateTable('work_state').set({ status: 'done' }).execute();
      queued.length = 0;
      await processEntities(payload, ctx);
      assert.deepEqual(queued, []);
    } finally {
      await handle.close();
    }
  });
});
