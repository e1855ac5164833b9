import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import { createRequire } from 'node:module';
import { lazy } from '../utils/lazy.js';

export type SqliteConnection = Database.Database;

export interface SqliteOpenOptions {
  /** how long a statement waits, synchronously, for another process's write lock */
  busyTimeoutMs?: number;
}

/**
 * The file of better-sqlite3's compiled addon, by its path in the package: the build bundles the package's
 * JavaScript (scripts/build.mjs), and the `bindings` lookup it would otherwise run searches for the
 * addon from the calling file's folder, which in a bundle is dist/.
 */
const sqliteAddon = lazy(() => createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node'));

/** Opens (creating it and its folder if needed) a SQLite file in WAL mode. */
export function openSqlite(file: string, options: SqliteOpenOptions = {}): SqliteConnection {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const conn = new Database(file, { nativeBinding: sqliteAddon() });
  conn.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a power cut may lose the last commits, never corrupts the file.
  conn.pragma('synchronous = NORMAL');
  conn.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5_000}`);
  conn.pragma('foreign_keys = ON');
  return conn;
}

/**
 * Kysely transactions take the write lock when they begin (BEGIN IMMEDIATE) instead of at their
 * first write: a transaction that read first and wrote later could otherwise fail with
 * SQLITE_BUSY_SNAPSHOT when another connection committed in between.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #driverConfig: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#driverConfig = config;
  }
  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.#driverConfig);
  }
}

/** prepared statements kept per connection (least recently used dropped first) */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The connection as Kysely sees it, with its prepared statements kept and reused: Kysely asks for a
 * new statement on every query, and preparing (parsing and planning the SQL) was 6 % of the main
 * thread's time in a 100,000-file scan. Kysely never iterates a statement while running it again
 * (no `.stream()` here), so one statement per SQL text is enough.
 */
export class StatementCache implements SqliteDatabase {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly conn: SqliteConnection) {}

  prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql); // most recently used goes last
    } else {
      statement = this.conn.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, statement);
    return statement;
  }

  close(): void {
    this.statements.clear();
    this.conn.close();
  }
}
