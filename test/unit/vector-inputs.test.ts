import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { eligibleTrackIds } from '../../src/services/vectors/inputs.js';
import { tagDocumentFrequency } from '../../src/services/vectors/store.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

describe('tracks ready for vectors', () => {
  it('pages through the tracks analysed with the current method only, in id order, whichever table the page walks', async () => {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vector-inputs-')) });
    try {
      const db = handle.db;
      await migrateToLatest(db, handle.dialect);
      const tracks = (await insertSyntheticLibrary(db, 5)).map((t) => t.id).sort((a, b) => a - b);
      // a library whose analysis has just begun: most tracks not analysed, one analysed by an older method
      await db.deleteFrom('track_analysis').where('track_id', 'in', tracks.filter((_, i) => i % 3 !== 0)).execute();
      await db.updateTable('track_analysis').set({ version: 1 }).where('track_id', '=', tracks[3]!).execute();
      const expected = tracks.filter((_, i) => i % 3 === 0 && i !== 3);
      const paged: number[] = [];
      for (let page = await eligibleTrackIds(db, true, 0, 2); page.length > 0; page = await eligibleTrackIds(db, true, page.at(-1)!, 2)) paged.push(...page);
      assert.deepEqual(paged, expected);
      assert.deepEqual(await eligibleTrackIds(db, false, tracks[1]!, 3), tracks.slice(2, 5), 'analysis off: every track');
    } finally {
      await handle.close();
    }
  });
});

describe('tag document frequency', () => {
  it('counts every track of a library whose ids span several counting ranges, and credits parent genres', async () => {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vector-df-')) });
    try {
      const db = handle.db;
      await migrateToLatest(db, handle.dialect);
      const tracks = await insertSyntheticLibrary(db, 4);
      const mood = await db.insertInto('tags').values({ kind: 'mood', name: 'Calm', name_key: 'calm' }).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('track_tags').values(tracks.slice(0, 3).map((t) => ({ track_id: t.id, tag_id: mood.id, source: 'test', weight: 1 }))).execute();
      // copies of the first track far along the ids, on either side of a range's edge (50,000)
      const columns = ((await sql<{ name: string }>`pragma table_info(tracks)`.execute(db)).rows).map((c) => c.name).filter((c) => c !== 'id' && c !== 'path');
      for (const id of [50_000, 50_001, 130_000]) {
        await sql`INSERT INTO tracks (id, path, ${sql.join(columns.map((c) => sql.ref(c)))}) SELECT ${id}, path || ${`#${id}`}, ${sql.join(columns.map((c) => sql.ref(c)))} FROM tracks WHERE id = ${tracks[0]!.id}`.execute(db);
        await sql`INSERT INTO track_genres (track_id, genre_id) SELECT ${id}, genre_id FROM track_genres WHERE track_id = ${tracks[0]!.id}`.execute(db);
        await db.insertInto('track_tags').values({ track_id: id, tag_id: mood.id, source: 'test', weight: 1 }).execute();
      }
      const df = await tagDocumentFrequency(db, tracks.length + 3);
      // 4 tracks per genre; the first track (house) has three copies
      assert.deepEqual(
        Object.fromEntries([...df].sort(([a], [b]) => (a < b ? -1 : 1))),
        { 'genre:ambient': 4, 'genre:electronic': 7, 'genre:heavymetal': 4, 'genre:house': 7, 'genre:jazz': 4, 'genre:metal': 4, 'mood:calm': 6 },
      );
    } finally {
      await handle.close();
    }
  });
});
