// The db handle every task gets: SQLite in the data folder by default, PostgreSQL by URL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { migrateToLatest, migrationsFor } from '../../src/db/migrate.js';
import { DamagedDatabaseError, openDatabase } from '../../src/db/open.js';
import { cleanCloseFile, takeCleanClose } from '../../src/db/clean_close.js';
import { databaseUrl } from '../helpers/brokers.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

describe('database handle', () => {
  it('refuses a damaged SQLite file at start with what to do, and changes nothing in it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-db-'));
    const handle = openDatabase({ dataDir: dir });
    await migrateToLatest(handle.db, handle.dialect);
    await insertSyntheticLibrary(handle.db, 40);
    await handle.close(); // checkpointed into the main file
    const file = path.join(dir, 'soniquebay.db');
    const pageSize = fs.readFileSync(file).readUInt16BE(16);
    const bytes = fs.readFileSync(file);
    // a page in the middle of the file (tracks, their indexes): its header overwritten
    const page = Math.floor(bytes.length / pageSize / 2);
    bytes.fill(0xa5, page * pageSize, page * pageSize + 64);
    fs.writeFileSync(file, bytes);
    assert.throws(() => openDatabase({ dataDir: dir }), (err: Error) => err instanceof DamagedDatabaseError && /damaged/.test(err.message) && /\.recover/.test(err.message) && /move it away/.test(err.message));
    assert.ok(fs.readFileSync(file).equals(bytes), 'the damaged file is left as it was');
  });

  it('skips the start-up check only on a file exactly as a clean close left it, and for a week at most', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-db-'));
    const file = path.join(dir, 'soniquebay.db');
    const closeCleanly = async () => {
      const handle = openDatabase({ dataDir: dir });
      await migrateToLatest(handle.db, handle.dialect);
      await handle.close();
    };
    await closeCleanly();
    const checkedAt = takeCleanClose(file);
    assert.ok(checkedAt !== null && Date.now() - checkedAt < 60_000, 'a clean close is trusted');
    assert.equal(takeCleanClose(file), null, 'the record is used up once the file is opened');

    await closeCleanly();
    fs.appendFileSync(file, Buffer.alloc(0));
    fs.utimesSync(file, new Date(), new Date(Date.now() - 3_600_000));
    assert.equal(takeCleanClose(file), null, 'a file changed after the close is checked');

    await closeCleanly();
    fs.writeFileSync(`${file}-wal`, '');
    assert.equal(takeCleanClose(file), null, 'a write-ahead log beside it (a crash, another process) means a check');
    fs.rmSync(`${file}-wal`);

    await closeCleanly();
    assert.equal(takeCleanClose(file, Date.now() + 8 * 24 * 3600 * 1000), null, 'a week after the last check, it is checked again');

    // the open itself: a record is written at each clean close, used up at each open
    await closeCleanly();
    assert.ok(fs.existsSync(cleanCloseFile(file)));
    const handle = openDatabase({ dataDir: dir });
    assert.ok(!fs.existsSync(cleanCloseFile(file)), 'an open file has no clean-close record (a crash leaves none)');
    await handle.close();
  });

  it('a library one migration behind gets it at the next start (the start-up check reads the applied ones in one query)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-db-'));
    try {
      const handle = openDatabase({ dataDir: dir });
      const all = migrationsFor('sqlite');
      const names = Object.keys(all);
      const older = Object.fromEntries(names.slice(0, -1).map((n) => [n, all[n]!]));
      const upTo = new Migrator({ db: handle.db as unknown as Kysely<unknown>, provider: { getMigrations: async () => older } });
      assert.equal((await upTo.migrateToLatest()).error, undefined);
      assert.deepEqual(await migrateToLatest(handle.db, handle.dialect), [names.at(-1)]);
      assert.deepEqual(await migrateToLatest(handle.db, handle.dialect), [], 'nothing left at the next start');
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db);
      assert.deepEqual(applied.rows.map((r) => r.name), names);
      await handle.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a first start that fails leaves no empty database that a later start would take for a new library', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-db-'));
    const handle = openDatabase({ dataDir: dir });
    await handle.abandon();
    assert.deepEqual(fs.readdirSync(dir), []);
    // an existing library is never removed by a failed start
    const kept = openDatabase({ dataDir: dir });
    await sql`CREATE TABLE t (n INTEGER)`.execute(kept.db);
    await kept.close();
    await openDatabase({ dataDir: dir }).abandon();
    assert.ok(fs.existsSync(path.join(dir, 'soniquebay.db')));
  });

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

  it('keeps two libraries in two schemas of one PostgreSQL database, each migrated in its own', { skip: databaseUrl() ? false : 'DATABASE_URL not set' }, async () => {
    const schemas = [`sbtest_${randomUUID().slice(0, 8)}`, `sbtest_${randomUUID().slice(0, 8)}`];
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      for (const schema of schemas) {
        await admin.query(`CREATE SCHEMA ${schema}`);
        const url = new URL(databaseUrl()!);
        url.searchParams.set('options', `-c search_path=${schema}`);
        const handle = openDatabase({ dataDir: os.tmpdir(), databaseUrl: url.toString() });
        try {
          // the second schema's first start used to find the first one's kysely_migration_lock and fail
          assert.deepEqual(await migrateToLatest(handle.db, 'postgres'), Object.keys(migrationsFor('postgres')), schema);
        } finally {
          await handle.close();
        }
      }
      const { rows } = await admin.query(`SELECT table_schema, count(*)::int AS n FROM information_schema.tables WHERE table_schema = ANY($1) AND table_name IN ('tracks', 'kysely_migration', 'kysely_migration_lock') GROUP BY table_schema ORDER BY table_schema`, [schemas]);
      assert.deepEqual(rows, [...schemas].sort().map((schema) => ({ table_schema: schema, n: 3 })));
    } finally {
      for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
