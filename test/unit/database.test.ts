// The db handle every task gets: SQLite in the data folder by default, PostgreSQL by URL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/db/open.js';
import { databaseUrl } from '../helpers/brokers.js';

describe('database handle', () => {
  it('opens SQLite in the data folder and serialises transactions (single writer)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-db-'));
    const handle = openDatabase({ dataDir: dir });
    assert.equal(handle.dialect, 'sqlite');
    assert.equal(handle.sqliteFile, path.join(dir, 'soniquebay.db'));
    await sql`CREATE TABLE counter (n INTEGER NOT NULL)`.execute(handle.db);
    await sql`INSERT INTO counter (n) VALUES (0)`.execute(handle.db);
    // read-then-write transactions racing: each must see the previous one's write
    await Promise.all(
      Array.from({ length: 20 }, () =>
        handle.db.transaction().execute(async (trx) => {
          const { rows } = await sql<{ n: number }>`SELECT n FROM counter`.execute(trx);
          await new Promise((resolve) => setImmediate(resolve));
          await sql`UPDATE counter SET n = ${rows[0]!.n + 1}`.execute(trx);
        }),
      ),
    );
    const { rows } = await sql<{ n: number }>`SELECT n FROM counter`.execute(handle.db);
    assert.equal(rows[0]!.n, 20);
    await handle.close();
  });

  it('opens PostgreSQL from a URL, inside the schema the URL names', { skip: databaseUrl() ? false : 'DATABASE_URL not set' }, async () => {
    const schema = `sbtest_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = new URL(databaseUrl()!);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const handle = openDatabase({ dataDir: os.tmpdir(), databaseUrl: url.toString() });
      assert.equal(handle.dialect, 'postgres');
      await sql`CREATE TABLE probe (id serial PRIMARY KEY, v text)`.execute(handle.db);
      await sql`INSERT INTO probe (v) VALUES ('x')`.execute(handle.db);
      await handle.close();
      const { rows } = await admin.query(`SELECT v FROM ${schema}.probe`);
      assert.deepEqual(rows, [{ v: 'x' }]);
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
