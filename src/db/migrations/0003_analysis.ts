import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// Audio analysis results, one row per track, tagged with the analysis version that made them.
export function up(dialect: DbDialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const float = dialect === 'postgres' ? 'double precision' : 'real';
  return async (db: Kysely<unknown>): Promise<void> => {
    let table = db.schema
      .createTable('track_analysis')
      .addColumn('track_id', big, (c) => c.primaryKey().references('tracks.id').onDelete('cascade'))
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('decoder', 'text', (c) => c.notNull())
      .addColumn('seconds_analyzed', float, (c) => c.notNull())
      .addColumn('analyzed_at', big, (c) => c.notNull());
    for (const column of ['bpm', 'bpm_confidence', 'key_confidence', 'lufs', 'sample_peak', 'true_peak', 'rg_track_gain', 'rg_album_gain', 'energy', 'danceability', 'gated_blocks']) {
      table = table.addColumn(column, float);
    }
    await table
      .addColumn('key', 'text')
      .addColumn('scale', 'text')
      .addColumn('camelot', 'text')
      .addColumn('features', 'text')
      .execute();
  };
}
