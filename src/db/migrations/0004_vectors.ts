import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Feature models (one row per version) and track vectors (binary float32, one row per track and
// model version: a new version is filled in beside the one that serves queries).
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema
      .createTable('vector_models')
      .addColumn('version', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('dimension', 'integer', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('track_count', big, (c) => c.notNull())
      .addColumn('tag_signature', 'text', (c) => c.notNull())
      .addColumn('training_ms', big, (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('activated_at', big)
      .execute();
    await db.schema
      .createTable('track_vectors')
      .addColumn('track_id', big, (c) => c.notNull().references('tracks.id').onDelete('cascade'))
      .addColumn('model_version', 'integer', (c) => c.notNull().references('vector_models.version').onDelete('cascade'))
      .addColumn('vector', blob, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .addPrimaryKeyConstraint('track_vectors_pk', ['model_version', 'track_id'])
      .execute();
    await db.schema.createIndex('track_vectors_track').on('track_vectors').column('track_id').execute();
    await db.schema.createIndex('track_vectors_updated').on('track_vectors').columns(['model_version', 'updated_at']).execute();
  };
}
