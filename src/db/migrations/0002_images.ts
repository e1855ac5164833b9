import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Stored images: one row per distinct original (content hash); covers link entities to them.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema
      .createTable('images')
      .addColumn('hash', 'text', (c) => c.primaryKey())
      .addColumn('mime', 'text', (c) => c.notNull())
      .addColumn('width', 'integer', (c) => c.notNull())
      .addColumn('height', 'integer', (c) => c.notNull())
      .addColumn('bytes', big, (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('covers_hash').on('covers').column('hash').execute();
  };
}
