// What a scan leaves when it ends: a track deleted by a batch takes its work and cover rows with it,
// and ending a scan in which nothing vanished or changed reads neither every track nor every work row
// (on a million-track library that was seconds of every unchanged rescan).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Kysely } from 'kysely';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ImmediateSqliteDialect, openSqlite, StatementCache } from '../../src/db/sqlite.js';
import type { Database, Db } from '../../src/db/types.js';
import type { TaskContext } from '../../src/tasks/define.js';
import { processEntities } from '../../src/workers/scan/batch_processor.js';
import type { ExtractedTrack } from '../../src/workers/scan/extracted.js';
import { ensureRoot, finalizeIfDone, startScan } from '../../src/workers/scan/sessions.js';
import { testLogger, testServices } from '../helpers/brokers.js';

const ROOT = '/music/finalize';

function item(n: number): ExtractedTrack {
  const album = `Album ${n % 7}`;
  const artist = `Artist ${n % 5}`;
  return {
    path: path.join(ROOT, album, `f${n}.mp3`), size: 1000 + n, mtimeMs: 1_700_000_000_000, format: 'MPEG', codec: 'MPEG 1 Layer 3', lossless: false,
    duration: 180, bitrate: 128000, sampleRate: 44100, channels: 2, bitDepth: null, title: `Track ${n}`, artists: [artist], artistDisplay: artist,
    albumArtists: [], album, discNo: 1, discTotal: 1, trackNo: n, trackTotal: 20, year: 2001, date: null, originalDate: null, genres: ['Rock'],
    composer: null, label: null, isrc: null, mbTrackId: null, mbRecordingId: null, mbAlbumId: null, mbArtistIds: [], mbAlbumArtistIds: [],
    mbReleaseGroupId: null, compilation: false, rgTrackGain: null, rgTrackPeak: null, rgAlbumGain: null, rgAlbumPeak: null, hasLyrics: false,
    pictureHash: null, bpm: null, key: null, abTags: {}, fallbacks: [],
  };
}

/** A library on SQLite whose connection remembers every statement Kysely prepares. */
async function recordedLibrary() {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-finalize-')), 'library.db');
  const conn = openSqlite(file);
  const statements: string[] = [];
  class Recording extends StatementCache {
    override prepare(sql: string) {
      statements.push(sql);
      return super.prepare(sql);
    }
  }
  const db: Db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: new Recording(conn) }) });
  await migrateToLatest(db, 'sqlite');
  await ensureRoot(db, ROOT);
  const ctx: TaskContext = {
    db, services: testServices(os.tmpdir()), log: testLogger, jobId: 'batch:test', taskName: 'batch.process_entities', attempt: 1,
    progress: async () => undefined, enqueue: async (name) => ({ id: 'x:1', name, queue: 'x' }), jobs: { counts: async () => ({}), prune: async () => 0 }, signal: new AbortController().signal,
  };
  /** SQLite's plan for a statement, its parameters bound to 1 */
  const plan = (sql: string) => (conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split('?').slice(1).map(() => 1)) as { detail: string }[]).map((r) => r.detail);
  return { db, ctx, statements, plan, close: () => db.destroy() };
}

describe('the end of a scan', () => {
  it('a track whose file became unreadable for good goes with its work and cover rows, in its batch', async () => {
    const { db, ctx, close } = await recordedLibrary();
    await processEntities({ items: [item(1), item(2)], errors: [] }, ctx);
    const track = await db.selectFrom('tracks').select('id').where('path', '=', item(1).path).executeTakeFirstOrThrow();
    assert.ok((await db.selectFrom('work_state').select('stage').where('entity_type', '=', 'track').where('entity_id', '=', track.id).execute()).length > 0, 'work queued for the new track');
    await db.insertInto('covers').values({ entity_type: 'track', entity_id: track.id, source: 'embedded', hash: 'h', mime: 'image/jpeg', width: 1, height: 1, created_at: Date.now() }).execute();

    const corrupt = { path: item(1).path, size: 5, mtimeMs: 1_700_000_000_001, stage: 'extract', message: 'no audio frames: corrupt file', transient: false };
    await processEntities({ items: [], errors: [corrupt] }, ctx);
    assert.equal(await db.selectFrom('tracks').select('id').where('id', '=', track.id).executeTakeFirst(), undefined, 'the track is gone');
    assert.deepEqual(await db.selectFrom('work_state').select('stage').where('entity_type', '=', 'track').where('entity_id', '=', track.id).execute(), [], 'no work left for a track that no longer exists');
    assert.deepEqual(await db.selectFrom('covers').select('id').where('entity_type', '=', 'track').where('entity_id', '=', track.id).execute(), [], 'no cover row left');
    assert.equal((await db.selectFrom('tracks').select('id').execute()).length, 1, 'the other track stays');
    await close();
  });

  it('a scan in which nothing vanished or changed ends without reading every track or every work row', async () => {
    const { db, ctx, statements, plan, close } = await recordedLibrary();
    await processEntities({ items: Array.from({ length: 300 }, (_, n) => item(n)), errors: [] }, ctx);
    const root = await ensureRoot(db, ROOT);
    await startScan(db, { rootId: root.id, rootPath: ROOT, scanId: 'unchanged', full: false });
    await db.updateTable('scans').set({ walk_done: 1 }).where('id', '=', 'unchanged').execute();

    const albums = (await db.selectFrom('albums').select('id').execute()).length;
    statements.length = 0;
    assert.equal(await finalizeIfDone(db, 'unchanged'), true);
    assert.ok(statements.length > 3, 'the finalize statements were recorded');
    // a plan line that visits every track or work row: a scan of the table, or an index search on a
    // value every row shares (present tracks: missing_since = NULL; track work: entity_type = 'track')
    const everyRow = /^(SCAN (tracks|work_state)\b|SEARCH work_state USING .*\(entity_type=\?\)$|SEARCH \w+ USING .*\(missing_since=\?\)$)/;
    for (const sql of statements) {
      for (const line of plan(sql)) assert.doesNotMatch(line, everyRow, sql);
    }
    assert.equal((await db.selectFrom('tracks').select('id').where('missing_since', 'is not', null).execute()).length, 0, 'no track made missing');
    assert.equal((await db.selectFrom('albums').select('id').execute()).length, albums, 'no album removed');
    await close();
  });
});
