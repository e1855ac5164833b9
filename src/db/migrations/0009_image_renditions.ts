import { sql, type Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Renditions (the display sizes of a cover) are rendered after the scan, by deferred.render_images,
// not while the scan links local art: rendering was half of a first scan's CPU. NULL: not rendered yet
// (the API renders on request meanwhile). Images stored before this migration were rendered with them.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.alterTable('images').addColumn('rendered_at', big).execute();
    await sql`update images set rendered_at = created_at`.execute(db);
    await db.schema.createIndex('images_not_rendered').on('images').column('created_at').where(sql<boolean>`rendered_at is null`).execute();
  };
}
