// The connection to SoniqueBay's database: one small pool per process (the sink is one writer; a
// PostgreSQL advisory lock keeps it one across processes), and a check of the live schema, since
// SoniqueBay's own migrations are fragile (contract §6) and a direct writer must not guess.
import type pg from 'pg';
import { loadPg } from '../../db/open.js';
import type { SinkSettings } from './settings.js';

export type SinkPool = pg.Pool;

const pools = new Map<string, pg.Pool>();

/** The pool for these settings, opened on first use; idle connections never keep the process alive. */
export function sinkPool(settings: SinkSettings): pg.Pool {
  const key = `${settings.url}\n${settings.schema ?? ''}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new (loadPg().Pool)({
      connectionString: settings.url,
      max: 2,
      allowExitOnIdle: true,
      idleTimeoutMillis: 10_000,
      ...(settings.schema ? { options: `-c search_path=${settings.schema}` } : {}),
    });
    pool.on('error', () => undefined);
    pools.set(key, pool);
  }
  return pool;
}

export async function closeSinkPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.end()));
}

/** the sink's advisory lock key: "SBSINK" */
export const SINK_LOCK = 0x5342_5349_4e4b;

/** Tables and columns the sink writes; their absence means this is not (yet) a SoniqueBay database. */
const REQUIRED: Record<string, readonly string[]> = {
  artists: ['id', 'name', 'musicbrainz_artistid', 'date_modified', 'lastfm_url', 'lastfm_listeners', 'lastfm_playcount', 'lastfm_tags', 'lastfm_similar_artists_fetched', 'lastfm_info_fetched_at'],
  albums: ['id', 'title', 'album_artist_id', 'release_year', 'musicbrainz_albumid', 'date_modified'],
  tracks: ['id', 'title', 'album_id', 'path', 'duration', 'track_number', 'disc_number', 'year', 'genre', 'musicbrainz_id', 'file_type', 'bitrate', 'file_mtime', 'file_size', 'track_artist_id', 'featured_artists', 'date_modified'],
  genres: ['id', 'name'],
  genre_tags: ['id', 'name'],
  mood_tags: ['id', 'name'],
  track_genres: ['track_id', 'genre_id'],
  album_genres: ['album_id', 'genre_id'],
  artist_genres: ['artist_id', 'genre_id'],
  track_genre_tags: ['track_id', 'tag_id'],
  track_mood_tags: ['track_id', 'tag_id'],
  covers: ['id', 'entity_type', 'entity_id', 'cover_data', 'mime_type', 'url', 'date_modified'],
  track_audio_features: ['track_id', 'bpm', 'key', 'scale', 'camelot_key', 'danceability', 'mood_happy', 'mood_aggressive', 'mood_party', 'mood_relaxed', 'analysis_source', 'analyzed_at'],
  scan_sessions: ['id', 'directory', 'status', 'processed_files', 'total_files', 'task_id', 'updated_at'],
  artist_similar: ['artist_id', 'similar_artist_id', 'weight', 'source'],
};

/** Reads the live schema; throws naming every missing table or column. */
export async function checkSchema(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [Object.keys(REQUIRED)],
  );
  const have = new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
  const missing = Object.entries(REQUIRED).flatMap(([table, columns]) => columns.filter((c) => !have.has(`${table}.${c}`)).map((c) => `${table}.${c}`));
  if (missing.length > 0) throw new Error(`SoniqueBay's database lacks ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ` and ${missing.length - 12} more` : ''}: run SoniqueBay's migrations (alembic upgrade head) first`);
  const labels = await client.query<{ label: string }>(`SELECT unnest(enum_range(NULL::covertype))::text AS label`);
  if (!labels.rows.some((r) => r.label === 'ALBUM')) throw new Error(`SoniqueBay's covertype enum has no 'ALBUM' label (found ${labels.rows.map((r) => r.label).join(', ')})`);
}
