import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// The deferred sweep looks every 2 minutes for tracks an older analysis version analysed
// (enrichment_deferred.ts). Without an index that look read every analysis row: 68 ms at 100,000
// tracks, on the event loop of `serve --embedded`, even when nothing was outdated.
export function up(_dialect: DbDialect) {
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.createIndex('track_analysis_version').on('track_analysis').column('version').execute();
  };
}
