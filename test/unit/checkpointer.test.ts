// WAL checkpoints run in a thread of their own: while a library is written, its pages reach the
// database file with no commit on the main thread doing the copy.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { SAFETY_NET_PAGES } from '../../src/db/checkpointer.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase, sqliteFileFor } from '../../src/db/open.js';

describe('WAL checkpoints', () => {
  it('are taken by the checkpoint thread while the library is written, not by its commits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-checkpoint-'));
    const file = sqliteFileFor(dir);
    const handle = openDatabase({ dataDir: dir });
    try {
      await migrateToLatest(handle.db, handle.dialect);
      await sql`CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB)`.execute(handle.db);
      const startSize = fs.statSync(file).size;
      const body = Buffer.alloc(40_000, 7);
      let largestWal = 0;
      // 16 MB in 400 commits over ~4 s: four times the thread's limit, under the commits' own (40 MB)
      for (let i = 0; i < 400; i++) {
        await sql`INSERT INTO scratch (body) VALUES (${body})`.execute(handle.db);
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // the commits themselves would copy only at 40 MB: whatever reached the file, the thread copied
      const [autocheckpoint] = (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(handle.db)).rows;
      assert.equal(autocheckpoint?.wal_autocheckpoint, SAFETY_NET_PAGES);
      const grown = fs.statSync(file).size - startSize;
      assert.ok(grown > 8_000_000, `only ${grown} bytes reached the database file while it was written`);
      // the log rewinds only when a checkpoint has caught up before the next commit: under commits
      // every 10 ms it may not, and the commits' own checkpoint at 40 MB bounds it
      assert.ok(largestWal < 45_000_000, `the WAL grew to ${largestWal} bytes`);
      console.log(`# ${(grown / 1e6).toFixed(1)} MB reached the database file while written; largest WAL ${(largestWal / 1e6).toFixed(1)} MB`);
    } finally {
      await handle.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
