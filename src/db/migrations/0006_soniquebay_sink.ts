import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// The SoniqueBay sink's side of things, kept in our database (the truth): which SoniqueBay row
// each of our entities became (with a hash of what was last written there, so a sync writes only
// what changed), the sync's own cursors, and the Last.fm artist details and similar artists that
// SoniqueBay's calls ask for.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const float = dialect === 'postgres' ? 'double precision' : 'real';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema
      .createTable('soniquebay_ids')
      .addColumn('entity_type', 'text', (c) => c.notNull())
      .addColumn('our_id', big, (c) => c.notNull())
      .addColumn('sb_id', big, (c) => c.notNull())
      .addColumn('hash', 'text')
      .addColumn('synced_at', big, (c) => c.notNull())
      .addPrimaryKeyConstraint('soniquebay_ids_pk', ['entity_type', 'our_id'])
      .execute();
    await db.schema.createIndex('soniquebay_ids_sb').on('soniquebay_ids').columns(['entity_type', 'sb_id']).execute();

    await db.schema
      .createTable('soniquebay_sync')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', big, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('artist_lastfm')
      .addColumn('artist_id', big, (c) => c.primaryKey().references('artists.id').onDelete('cascade'))
      .addColumn('url', 'text')
      .addColumn('listeners', big)
      .addColumn('playcount', big)
      .addColumn('tags', 'text')
      .addColumn('bio', 'text')
      .addColumn('mbid', 'text')
      .addColumn('info_fetched_at', big)
      .addColumn('similar_fetched_at', big)
      .execute();

    await db.schema
      .createTable('artist_similar')
      .addColumn('artist_id', big, (c) => c.notNull().references('artists.id').onDelete('cascade'))
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('mbid', 'text')
      .addColumn('weight', float, (c) => c.notNull())
      .addPrimaryKeyConstraint('artist_similar_pk', ['artist_id', 'name_key'])
      .execute();
  };
}
