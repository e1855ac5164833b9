// SoniqueBay's database for tests and the sync benchmark: its schema (soniquebay-schema.sql, from
// the contract's §3) in a PostgreSQL schema of the test's own on DATABASE_URL, dropped afterwards.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const SCHEMA_SQL = path.resolve(import.meta.dirname, 'soniquebay-schema.sql');

/** the tables the sink writes, compared before and after a run that must change nothing */
export const MIRRORED_TABLES = ['artists', 'albums', 'tracks', 'genres', 'genre_tags', 'mood_tags', 'track_genres', 'album_genres', 'artist_genres', 'track_genre_tags', 'track_mood_tags', 'covers', 'track_audio_features', 'artist_similar'] as const;

export interface SoniqueBayDb {
  schema: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createSoniqueBayDb(databaseUrl: string): Promise<SoniqueBayDb> {
  const schema = `sbtest_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    const vector = (await admin.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`)).rowCount ? 'vector(512)' : 'text';
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await admin.query(`SET search_path = ${schema}${vector === 'text' ? '' : ', public'}`);
      await admin.query(fs.readFileSync(SCHEMA_SQL, 'utf8').replaceAll('{{VECTOR}}', vector));
    } catch (err) {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      throw err;
    }
  } finally {
    await admin.end();
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3, options: `-c search_path=${schema}` });
  return {
    schema,
    pool,
    async drop() {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    },
  };
}

/** every row of every mirrored table (all columns), as a fingerprint per table */
export async function snapshot(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of MIRRORED_TABLES) {
    const { rows } = await pool.query<{ n: string; h: string | null }>(`SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${table} t`);
    out[table] = `${rows[0]!.n}:${rows[0]!.h ?? ''}`;
  }
  return out;
}
