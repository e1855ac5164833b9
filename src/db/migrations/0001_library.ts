import { type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// The library schema, one definition for SQLite and PostgreSQL. Epoch-ms times and file sizes are
// 64-bit integers; booleans are 0/1 integers so both databases read them the same way.

type Table = CreateTableBuilder<string, never>;

export function up(dialect: DbDialect) {
  const id = (t: Table) =>
    dialect === 'postgres'
      ? t.addColumn('id', 'bigserial', (c) => c.primaryKey())
      : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const float = dialect === 'postgres' ? 'double precision' : 'real';
  const fk = (table: string, onDelete: 'cascade' | 'set null') => (c: ColumnDefinitionBuilder) => c.references(`${table}.id`).onDelete(onDelete);

  return async (db: Kysely<unknown>): Promise<void> => {
    await id(db.schema.createTable('library_roots'))
      .addColumn('path', 'text', (c) => c.notNull().unique())
      .addColumn('added_at', big, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('scans')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('root_id', big, (c) => c.notNull().references('library_roots.id').onDelete('cascade'))
      .addColumn('root_path', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('full', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('walk_done', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('discovered', big, (c) => c.notNull().defaultTo(0))
      .addColumn('unchanged', big, (c) => c.notNull().defaultTo(0))
      .addColumn('queued', big, (c) => c.notNull().defaultTo(0))
      .addColumn('extracted', big, (c) => c.notNull().defaultTo(0))
      .addColumn('inserted', big, (c) => c.notNull().defaultTo(0))
      .addColumn('updated', big, (c) => c.notNull().defaultTo(0))
      .addColumn('moved', big, (c) => c.notNull().defaultTo(0))
      .addColumn('removed', big, (c) => c.notNull().defaultTo(0))
      .addColumn('failed', big, (c) => c.notNull().defaultTo(0))
      .addColumn('batches_total', big, (c) => c.notNull().defaultTo(0))
      .addColumn('batches_done', big, (c) => c.notNull().defaultTo(0))
      .addColumn('started_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .addColumn('finished_at', big)
      .addColumn('last_error', 'text')
      .execute();
    await db.schema.createIndex('scans_root_status').on('scans').columns(['root_id', 'status']).execute();

    await db.schema
      .createTable('scan_batches')
      .addColumn('scan_id', 'text', (c) => c.notNull().references('scans.id').onDelete('cascade'))
      .addColumn('batch_no', big, (c) => c.notNull())
      .addColumn('done_at', big, (c) => c.notNull())
      .addPrimaryKeyConstraint('scan_batches_pk', ['scan_id', 'batch_no'])
      .execute();

    await id(db.schema.createTable('folders'))
      .addColumn('root_id', big, (c) => c.notNull().references('library_roots.id').onDelete('cascade'))
      .addColumn('path', 'text', (c) => c.notNull().unique())
      .addColumn('fingerprint', 'text')
      .addColumn('pending_fingerprint', 'text')
      .addColumn('pending_scan_id', 'text')
      .addColumn('last_seen_scan_id', 'text')
      .execute();
    await db.schema.createIndex('folders_root_seen').on('folders').columns(['root_id', 'last_seen_scan_id']).execute();
    await db.schema.createIndex('folders_pending').on('folders').column('pending_scan_id').execute();

    await id(db.schema.createTable('scan_errors'))
      .addColumn('path', 'text', (c) => c.notNull().unique())
      .addColumn('root_id', big, fk('library_roots', 'cascade'))
      .addColumn('folder', 'text', (c) => c.notNull())
      .addColumn('scan_id', 'text')
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('file_size', big)
      .addColumn('mtime_ms', big)
      .addColumn('created_at', big, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('scan_errors_folder').on('scan_errors').column('folder').execute();

    await id(db.schema.createTable('artists'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .addColumn('mbid', 'text')
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('artists_mbid').on('artists').column('mbid').execute();

    await id(db.schema.createTable('albums'))
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('album_key', 'text', (c) => c.notNull().unique())
      .addColumn('album_artist_id', big, (c) => c.notNull().references('artists.id').onDelete('cascade'))
      .addColumn('mbid', 'text')
      .addColumn('release_group_mbid', 'text')
      .addColumn('year', 'integer')
      .addColumn('compilation', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('albums_artist').on('albums').column('album_artist_id').execute();

    await id(db.schema.createTable('genres'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .execute();

    await id(db.schema.createTable('tags'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addUniqueConstraint('tags_kind_key', ['kind', 'name_key'])
      .execute();

    await id(db.schema.createTable('tracks'))
      .addColumn('path', 'text', (c) => c.notNull().unique())
      .addColumn('root_id', big, (c) => c.notNull().references('library_roots.id').onDelete('cascade'))
      .addColumn('folder', 'text', (c) => c.notNull())
      .addColumn('file_size', big, (c) => c.notNull())
      .addColumn('mtime_ms', big, (c) => c.notNull())
      .addColumn('identity', 'text', (c) => c.notNull())
      .addColumn('format', 'text')
      .addColumn('codec', 'text')
      .addColumn('lossless', 'integer')
      .addColumn('duration', float)
      .addColumn('bitrate', 'integer')
      .addColumn('sample_rate', 'integer')
      .addColumn('channels', 'integer')
      .addColumn('bit_depth', 'integer')
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('artist_display', 'text', (c) => c.notNull())
      .addColumn('album_artist_display', 'text')
      .addColumn('album_id', big, fk('albums', 'set null'))
      .addColumn('artist_id', big, (c) => c.notNull().references('artists.id'))
      .addColumn('disc_no', 'integer')
      .addColumn('disc_total', 'integer')
      .addColumn('track_no', 'integer')
      .addColumn('track_total', 'integer')
      .addColumn('year', 'integer')
      .addColumn('date', 'text')
      .addColumn('original_date', 'text')
      .addColumn('composer', 'text')
      .addColumn('label', 'text')
      .addColumn('isrc', 'text')
      .addColumn('mb_track_id', 'text')
      .addColumn('mb_recording_id', 'text')
      .addColumn('mb_album_id', 'text')
      .addColumn('mb_artist_id', 'text')
      .addColumn('mb_album_artist_id', 'text')
      .addColumn('mb_release_group_id', 'text')
      .addColumn('compilation', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('rg_track_gain', float)
      .addColumn('rg_track_peak', float)
      .addColumn('rg_album_gain', float)
      .addColumn('rg_album_peak', float)
      .addColumn('has_lyrics', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('has_picture', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('picture_hash', 'text')
      .addColumn('bpm_tag', float)
      .addColumn('key_tag', 'text')
      .addColumn('ab_tags', 'text')
      .addColumn('fallbacks', 'text')
      .addColumn('missing_scan_id', 'text')
      .addColumn('last_scan_id', 'text')
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('tracks_folder').on('tracks').column('folder').execute();
    await db.schema.createIndex('tracks_album').on('tracks').column('album_id').execute();
    await db.schema.createIndex('tracks_artist').on('tracks').column('artist_id').execute();
    await db.schema.createIndex('tracks_identity').on('tracks').column('identity').execute();
    await db.schema.createIndex('tracks_missing').on('tracks').column('missing_scan_id').execute();

    const link = async (name: string, a: [string, string], b: [string, string], extra?: (t: Table) => Table) => {
      let t = db.schema
        .createTable(name)
        .addColumn(a[0], big, (c) => c.notNull().references(`${a[1]}.id`).onDelete('cascade'))
        .addColumn(b[0], big, (c) => c.notNull().references(`${b[1]}.id`).onDelete('cascade'));
      if (extra) t = extra(t);
      await t.addPrimaryKeyConstraint(`${name}_pk`, [a[0], b[0]] as never).execute();
      await db.schema.createIndex(`${name}_${b[0]}`).on(name).column(b[0]).execute();
    };
    await link('track_artists', ['track_id', 'tracks'], ['artist_id', 'artists'], (t) => t.addColumn('position', 'integer', (c) => c.notNull().defaultTo(0)));
    await link('track_genres', ['track_id', 'tracks'], ['genre_id', 'genres']);
    await link('album_genres', ['album_id', 'albums'], ['genre_id', 'genres']);
    await link('artist_genres', ['artist_id', 'artists'], ['genre_id', 'genres']);
    await link('track_tags', ['track_id', 'tracks'], ['tag_id', 'tags'], (t) =>
      t.addColumn('source', 'text', (c) => c.notNull()).addColumn('weight', float),
    );

    await id(db.schema.createTable('covers'))
      .addColumn('entity_type', 'text', (c) => c.notNull())
      .addColumn('entity_id', big, (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('mime', 'text', (c) => c.notNull())
      .addColumn('width', 'integer')
      .addColumn('height', 'integer')
      .addColumn('created_at', big, (c) => c.notNull())
      .addUniqueConstraint('covers_entity', ['entity_type', 'entity_id', 'source'])
      .execute();

    await db.schema
      .createTable('work_state')
      .addColumn('entity_type', 'text', (c) => c.notNull())
      .addColumn('entity_id', big, (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', big)
      .addColumn('last_error', 'text')
      .addColumn('updated_at', big, (c) => c.notNull())
      .addPrimaryKeyConstraint('work_state_pk', ['entity_type', 'entity_id', 'stage'])
      .execute();
    await db.schema.createIndex('work_state_due').on('work_state').columns(['stage', 'status', 'next_attempt_at']).execute();
  };
}
