import type { Kysely } from 'kysely';
import type { DbDialect } from '../types.js';

// What a scan skipped because it is not audio, counted by extension ({".mid": 30, ".jpg": 12}, JSON):
// a folder of MIDI files no longer scans to "0 files found" without a word.
export function up(_dialect: DbDialect) {
  return async (db: Kysely<unknown>): Promise<void> => {
    await db.schema.alterTable('scans').addColumn('skipped', 'text').execute();
  };
}
