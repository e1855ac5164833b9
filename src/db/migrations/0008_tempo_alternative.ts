import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// The analysis keeps the second metrical level of a track's tempo when it is nearly as likely as the
// first (a slow piece heard in double time, a shuffle heard in half time): a player or a DJ tool
// can offer both. NULL when one level is clearly the beat.
export function up(dialect: DbDialect) {
  const float = dialect === 'postgres' ? 'double precision' : 'real';
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.alterTable('track_analysis').addColumn('bpm_alternative', float).execute();
  };
}
