import { createRequire } from 'node:module';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import type pgModule from 'pg';
import type { Db, DbDialect } from './types.js';
import { ImmediateSqliteDialect, openSqlite, StatementCache } from './sqlite.js';

export interface DatabaseHandle {
  db: Db;
  dialect: DbDialect;
  /** the SQLite file, when the library lives in SQLite (the embedded queue shares it) */
  sqliteFile?: string;
  close(): Promise<void>;
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

const require = createRequire(import.meta.url);

/** pg, loaded by the first PostgreSQL connection only (an embedded start does not pay for it) */
function loadPg(): typeof pgModule {
  const pg = require('pg') as typeof pgModule;
  // 64-bit integers (epoch-ms times, file sizes, ids) as numbers: they stay far below 2^53.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  return pg;
}

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
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  const file = sqliteFileFor(target.dataDir);
  const conn = openSqlite(file);
  const db: Db = new Kysely({ dialect: new ImmediateSqliteDialect({ database: new StatementCache(conn) }) });
  return { db, dialect: 'sqlite', sqliteFile: file, close: () => db.destroy() };
}
