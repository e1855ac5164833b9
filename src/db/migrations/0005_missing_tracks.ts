import { sql, type Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Never lose the user's library (docs/reliability.md):
// - a track whose file has gone is kept as *missing* (with its id, analysis, vectors and covers) instead
//   of being deleted: an unmounted disk or a file moved away and back must not cost the library anything;
// - a root records the device it was scanned on, so that an unmounted root (the empty mount point is on
//   another device) is refused instead of being taken for a library whose files were all deleted;
// - one running scan per root is a unique constraint, not a check-then-insert.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.alterTable('tracks').addColumn('missing_since', big).execute();
    await db.schema.createIndex('tracks_missing_since').on('tracks').column('missing_since').execute();
    await db.schema.alterTable('library_roots').addColumn('device', 'text').execute();
    // older versions could leave two scans of a root running: the older ones were never going to end
    await sql`UPDATE scans SET status = 'failed', last_error = 'interrupted (superseded by a newer scan)'
      WHERE status = 'running' AND EXISTS (SELECT 1 FROM scans newer WHERE newer.root_id = scans.root_id
        AND newer.status = 'running' AND (newer.started_at > scans.started_at OR (newer.started_at = scans.started_at AND newer.id > scans.id)))`.execute(db);
    await db.schema.createIndex('scans_one_running').on('scans').column('root_id').unique().where(sql<boolean>`status = 'running'`).execute();
  };
}
