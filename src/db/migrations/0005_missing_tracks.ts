import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// A track whose file has gone is kept as *missing* (with its id, analysis, vectors and covers) instead
// of being deleted: an unmounted disk or a file moved away and back must not cost the library anything.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.alterTable('tracks').addColumn('missing_since', big).execute();
    await db.schema.createIndex('tracks_missing_since').on('tracks').column('missing_since').execute();
  };
}
