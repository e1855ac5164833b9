import { PostgresAdapter } from 'kysely';

/** Whether a Kysely handle (a database or a transaction) talks to PostgreSQL rather than SQLite. */
export function isPostgres(db: { getExecutor(): { adapter: unknown } }): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
