import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import type pgModule from 'pg';
import type { Db, DbDialect } from './types.js';
import { ImmediateSqliteDialect, openSqlite, StatementCache } from './sqlite.js';
import { cleanCloseFile, recordCleanClose, takeCleanClose } from './clean_close.js';
import { lazy, lazyRequire } from '../utils/lazy.js';

export interface DatabaseHandle {
  db: Db;
  dialect: DbDialect;
  /** the SQLite file, when the library lives in SQLite (the embedded queue shares it) */
  sqliteFile?: string;
  close(): Promise<void>;
  /** closes, and deletes the SQLite file if this start created it: a failed first start leaves no empty library behind */
  abandon(): Promise<void>;
}

export interface DatabaseTarget {
  /** postgres://… ; absent means SQLite in the data folder */
  databaseUrl?: string;
  dataDir: string;
}

export const SQLITE_FILE_NAME = 'soniquebay.db';

export function sqliteFileFor(dataDir: string): string {
  return path.join(dataDir, SQLITE_FILE_NAME);
}

const pgLibrary = lazyRequire<typeof pgModule>('pg');

/** pg, loaded by the first PostgreSQL connection only (an embedded start does not pay for it) */
export const loadPg = lazy((): typeof pgModule => {
  const pg = pgLibrary();
  // 64-bit integers (epoch-ms times, file sizes, ids) as numbers: they stay far below 2^53.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  return pg;
});

export function openDatabase(target: DatabaseTarget): DatabaseHandle {
  if (target.databaseUrl) {
    const pg = loadPg();
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 10 });
    // A server restart cuts every connection, idle or lent to a transaction: the query in flight
    // fails (its job is retried) and the pool connects anew. Without listeners, the 'error' events
    // of the cut connections would end the process.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const db: Db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy(), abandon: () => db.destroy() };
  }
  const file = sqliteFileFor(target.dataDir);
  const created = !fs.existsSync(file);
  const discard = () => {
    if (created) for (const f of [file, `${file}-wal`, `${file}-shm`, cleanCloseFile(file)]) fs.rmSync(f, { force: true });
  };
  let checkedAt = takeCleanClose(file);
  let conn;
  try {
    conn = openSqlite(file);
    if (checkedAt === null) {
      checkSqlite(conn, file);
      checkedAt = Date.now();
    }
  } catch (err) {
    conn?.close();
    discard();
    throw err;
  }
  const db: Db = new Kysely({ dialect: new ImmediateSqliteDialect({ database: new StatementCache(conn) }) });
  return {
    db,
    dialect: 'sqlite',
    sqliteFile: file,
    close: async () => {
      await db.destroy();
      recordCleanClose(file, checkedAt);
    },
    abandon: async () => {
      await db.destroy();
      discard();
    },
  };
}

export class DamagedDatabaseError extends Error {
  constructor(file: string, detail: string) {
    super(
      `the library database ${file} is damaged (${detail}). Nothing was changed. Stop every soniquebay process, keep a copy of the file, then ` +
        `either recover it (sqlite3 ${file} ".recover" | sqlite3 recovered.db, then put recovered.db in its place) or move it away to start an ` +
        `empty library (a scan rebuilds the tracks; analysis and vectors are computed again)`,
    );
    this.name = 'DamagedDatabaseError';
  }
}

/**
 * The start-up check: SQLite's quick_check (every page and index entry is read, without comparing
 * indexes to tables), skipped when the file is as a clean close left it (clean_close.ts). A damaged
 * file stops the program with what to do, instead of letting scans run on wrong counts or hang.
 * Measured in docs/reliability.md.
 */
function checkSqlite(conn: ReturnType<typeof openSqlite>, file: string): void {
  let problems: string[];
  try {
    problems = (conn.pragma('quick_check(5)') as { quick_check: string }[]).map((r) => r.quick_check);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') throw new DamagedDatabaseError(file, (err as Error).message);
    throw err;
  }
  if (problems.length !== 1 || problems[0] !== 'ok') throw new DamagedDatabaseError(file, problems.join('; '));
}
