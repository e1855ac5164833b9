// The SoniqueBay sink: mirrors our library (the truth) into SoniqueBay's own schema (contract §3),
// so that its API and UI, which read only their database, show what we found.
//
// - Incremental: a run reads what changed since the previous run (tracks, their analysis and work
//   state, covers, Last.fm details) plus anything never mirrored, and writes only the entities whose
//   hash differs from what was last written there (soniquebay_ids): a second run writes nothing.
// - Batched: each batch of tracks (with its artists, albums, genres, tags, links, features) is one
//   transaction on SoniqueBay's side; the id map on ours is written after it commits (a crash in
//   between is healed by the next run, which finds the rows by path and name).
// - One writer: a PostgreSQL advisory lock on SoniqueBay's database.
// - The traps of §3, each handled here: link tables without keys (per-entity replace, never ON
//   CONFLICT), upper-case covertype labels, no unique key on covers (select-then-update, one row
//   per entity, duplicates removed), int4 file_size, trigger-maintained tsvector columns (never
//   written), tracks.musicbrainz_id unique (a second file of one recording gets NULL),
//   artist_similar without cascade (cleared before an artist goes), albums.album_id without cascade.
// - Missing tracks (tracks.missing_since) and deleted ones leave SoniqueBay, and so do the albums
//   and artists left with no present track; SoniqueBay has no notion of "missing".
// - Never written: artists.vector / track_embeddings (512-d semantic vectors; ours are 48-d audio
//   vectors, a different space: docs/soniquebay.md).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type pg from 'pg';
import type { Db, SoniqueBayIdTable } from '../../db/types.js';
import { imageFor } from '../../workers/covers/links.js';
import type { ImageStore } from '../images/store.js';
import { camelotOf, coverMime, fileTypeOf, hashOf, int4OrNull, keyOf, releaseYear, tagFeatures, textOrNull } from './rows.js';
import { insertRows, updateRows, type Columns } from './sql.js';
import { checkSchema, SINK_LOCK } from './target.js';

export interface SinkOptions {
  images: ImageStore;
  /** tracks per SoniqueBay transaction */
  batchSize?: number;
  /** also look for deleted and missing tracks even if no scan finished since the last run */
  full?: boolean;
  /** compare every track, album and artist with what was last written, not only recent changes */
  deep?: boolean;
  signal?: AbortSignal;
}

export interface SyncReport {
  artists: number;
  albums: number;
  tracks: number;
  removed: { tracks: number; albums: number; artists: number };
  /** Celery ids / scan ids whose scan_sessions row was closed */
  scansClosed: string[];
  ms: number;
}

/**
 * changes committed up to this long after their timestamp are still seen (a batch transaction
 * stamps its rows when it starts); the daily deep pass (`deep`) catches anything slower
 */
const OVERLAP_MS = 2 * 60_000;
const DEFAULT_BATCH = 500;
const CHUNK = 500;
/** the cover size sent as base64: SoniqueBay's API turns it into a 256-px WebP */
const COVER_SIZE = 512;

type Entity = SoniqueBayIdTable['entity_type'];

/** a sync run's cursor: `changes` (epoch ms of the last run's start), `scans`, `deletions` */
async function cursor(db: Db, key: string): Promise<number> {
  return (await db.selectFrom('soniquebay_sync').select('value').where('key', '=', key).executeTakeFirst())?.value ?? 0;
}

async function setCursor(db: Db, key: string, value: number): Promise<void> {
  await db.insertInto('soniquebay_sync').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

/** when a scan's scan_sessions row was closed (its last batch mirrored), else null */
export async function scanClosedAt(db: Db, scanId: string): Promise<number | null> {
  return (await db.selectFrom('soniquebay_sync').select('value').where('key', '=', `scan:${scanId}`).executeTakeFirst())?.value ?? null;
}

async function mapOf(db: Db, entity: Entity, ids: readonly number[]): Promise<Map<number, { sb: number; hash: string | null }>> {
  const out = new Map<number, { sb: number; hash: string | null }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db.selectFrom('soniquebay_ids').select(['our_id', 'sb_id', 'hash']).where('entity_type', '=', entity).where('our_id', 'in', ids.slice(i, i + CHUNK)).execute();
    for (const r of rows) out.set(r.our_id, { sb: r.sb_id, hash: r.hash });
  }
  return out;
}

async function remember(db: Db, entity: Entity, rows: readonly { our: number; sb: number; hash: string }[]): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db
      .insertInto('soniquebay_ids')
      .values(rows.slice(i, i + CHUNK).map((r) => ({ entity_type: entity, our_id: r.our, sb_id: r.sb, hash: r.hash, synced_at: now })))
      .onConflict((oc) => oc.columns(['entity_type', 'our_id']).doUpdateSet((eb) => ({ sb_id: eb.ref('excluded.sb_id'), hash: eb.ref('excluded.hash'), synced_at: now })))
      .execute();
  }
}

async function forget(db: Db, entity: Entity, ourIds: readonly number[]): Promise<void> {
  for (let i = 0; i < ourIds.length; i += CHUNK) await db.deleteFrom('soniquebay_ids').where('entity_type', '=', entity).where('our_id', 'in', ourIds.slice(i, i + CHUNK)).execute();
}

/** SoniqueBay ids that still exist among `ids` (a row deleted on that side is written again) */
async function existing(client: pg.PoolClient, table: string, ids: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${table} WHERE id = ANY($1::int4[])`, [ids]);
  return new Set(rows.map((r) => r.id));
}

/** SoniqueBay ids already mapped to one of our entities: not to be adopted by another */
async function taken(db: Db, entity: Entity, sbIds: readonly number[]): Promise<Set<number>> {
  const out = new Set<number>();
  for (let i = 0; i < sbIds.length; i += CHUNK) {
    const rows = await db.selectFrom('soniquebay_ids').select('sb_id').where('entity_type', '=', entity).where('sb_id', 'in', sbIds.slice(i, i + CHUNK)).execute();
    for (const r of rows) out.add(r.sb_id);
  }
  return out;
}

/** one run of the sink; throws (and the task retries) when SoniqueBay's database cannot be written */
export async function syncSoniqueBay(db: Db, pool: pg.Pool, options: SinkOptions): Promise<SyncReport> {
  const started = Date.now();
  const client = await pool.connect();
  try {
    await checkSchema(client);
    await client.query('SELECT pg_advisory_lock($1)', [SINK_LOCK]);
    try {
      return await new SinkRun(db, client, options, started).run();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [SINK_LOCK]);
    }
  } finally {
    client.release();
  }
}

interface OurTrack {
  id: number;
  path: string;
  title: string;
  album_id: number | null;
  artist_id: number;
  duration: number | null;
  track_no: number | null;
  disc_no: number | null;
  year: number | null;
  date: string | null;
  mb_recording_id: string | null;
  mb_track_id: string | null;
  mb_album_id: string | null;
  mb_artist_id: string | null;
  mb_album_artist_id: string | null;
  bitrate: number | null;
  mtime_ms: number;
  file_size: number;
  bpm_tag: number | null;
  key_tag: string | null;
  ab_tags: string | null;
}

const TRACK_COLUMNS: Columns = {
  names: ['title', 'album_id', 'path', 'duration', 'track_number', 'disc_number', 'year', 'genre', 'musicbrainz_id', 'musicbrainz_albumid', 'musicbrainz_artistid', 'musicbrainz_albumartistid', 'file_type', 'bitrate', 'file_mtime', 'file_size', 'track_artist_id', 'featured_artists'],
  types: ['text', 'int4', 'text', 'int4', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'float8', 'int4', 'int4', 'text'],
};
const FEATURE_COLUMNS: Columns = {
  names: ['track_id', 'bpm', 'key', 'scale', 'camelot_key', 'danceability', 'mood_happy', 'mood_aggressive', 'mood_party', 'mood_relaxed', 'analysis_source', 'analyzed_at'],
  types: ['int4', 'float8', 'text', 'text', 'text', 'float8', 'float8', 'float8', 'float8', 'float8', 'text', 'timestamptz'],
};
const MOODS = ['happy', 'aggressive', 'party', 'relaxed'] as const;

class SinkRun {
  private readonly report: SyncReport = { artists: 0, albums: 0, tracks: 0, removed: { tracks: 0, albums: 0, artists: 0 }, scansClosed: [], ms: 0 };
  /** entities handled in this run (a later batch does not hash them again) */
  private readonly artistsDone = new Map<number, number>();
  private readonly albumsDone = new Map<number, number>();
  private readonly batchSize: number;

  constructor(
    private readonly db: Db,
    private readonly client: pg.PoolClient,
    private readonly options: SinkOptions,
    private readonly started: number,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
  }

  async run(): Promise<SyncReport> {
    const last = await cursor(this.db, 'changes');
    const since = this.options.deep ? -1 : last - OVERLAP_MS;
    await this.tracks(since);
    await this.entities(since);
    const scansSince = await cursor(this.db, 'scans');
    const finished = await this.db
      .selectFrom('scans')
      .select(['id', 'root_path', 'status', 'discovered', 'failed', 'finished_at'])
      .where('finished_at', '>', scansSince)
      .where('finished_at', '<=', this.started)
      .orderBy('finished_at')
      .execute();
    if (this.options.full || finished.length > 0) await this.removals();
    // the first run closes the sessions SoniqueBay opened, but adds none for our past scans
    await this.closeScans(finished, last > 0);
    await setCursor(this.db, 'changes', this.started);
    if (finished.length > 0) await setCursor(this.db, 'scans', Math.max(...finished.map((s) => s.finished_at ?? 0)));
    this.report.ms = Date.now() - this.started;
    return this.report;
  }

  /** tracks changed since `since` or never mirrored, in id order, a batch per transaction */
  private async tracks(since: number): Promise<void> {
    let after = 0;
    for (;;) {
      this.options.signal?.throwIfAborted();
      const ids = (
        await this.db
          .selectFrom('tracks as t')
          .select('t.id')
          .where('t.id', '>', after)
          .where('t.missing_since', 'is', null)
          .where((eb) =>
            eb.or([
              eb('t.updated_at', '>', since),
              eb.not(eb.exists(eb.selectFrom('soniquebay_ids as m').select('m.our_id').where('m.entity_type', '=', 'track').whereRef('m.our_id', '=', 't.id'))),
              eb.exists(eb.selectFrom('track_analysis as a').select('a.track_id').whereRef('a.track_id', '=', 't.id').where('a.analyzed_at', '>', since)),
              eb.exists(eb.selectFrom('work_state as w').select('w.entity_id').where('w.entity_type', '=', 'track').whereRef('w.entity_id', '=', 't.id').where('w.updated_at', '>', since)),
            ]),
          )
          .orderBy('t.id')
          .limit(this.batchSize)
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) return;
      after = ids[ids.length - 1]!;
      await this.trackBatch(ids);
    }
  }

  private async trackBatch(ids: number[]): Promise<void> {
    const db = this.db;
    const tracks = (await db
      .selectFrom('tracks')
      .select(['id', 'path', 'title', 'album_id', 'artist_id', 'duration', 'track_no', 'disc_no', 'year', 'date', 'mb_recording_id', 'mb_track_id', 'mb_album_id', 'mb_artist_id', 'mb_album_artist_id', 'bitrate', 'mtime_ms', 'file_size', 'bpm_tag', 'key_tag', 'ab_tags'])
      .where('id', 'in', ids)
      .orderBy('id')
      .execute()) as OurTrack[];
    const [featured, genres, tags, analysis, map] = await Promise.all([
      db.selectFrom('track_artists as ta').innerJoin('artists as a', 'a.id', 'ta.artist_id').select(['ta.track_id', 'a.name', 'ta.position']).where('ta.track_id', 'in', ids).where('ta.position', '>', 0).orderBy('ta.position').execute(),
      db.selectFrom('track_genres as tg').innerJoin('genres as g', 'g.id', 'tg.genre_id').select(['tg.track_id', 'g.id', 'g.name']).where('tg.track_id', 'in', ids).orderBy('g.id').execute(),
      db.selectFrom('track_tags as tt').innerJoin('tags as t', 't.id', 'tt.tag_id').select(['tt.track_id', 't.kind', 't.name', 'tt.weight']).where('tt.track_id', 'in', ids).where('t.kind', 'in', ['genre', 'mood']).orderBy('t.name').execute(),
      db.selectFrom('track_analysis').select(['track_id', 'bpm', 'key', 'scale', 'camelot', 'danceability', 'analyzed_at']).where('track_id', 'in', ids).execute(),
      mapOf(db, 'track', ids),
    ]);
    const group = <T extends { track_id: number }>(rows: T[]) => {
      const out = new Map<number, T[]>();
      for (const r of rows) out.set(r.track_id, [...(out.get(r.track_id) ?? []), r]);
      return out;
    };
    const featuredOf = group(featured);
    const genresOf = group(genres);
    const tagsOf = group(tags);
    const analysisOf = new Map(analysis.map((a) => [a.track_id, a]));

    const client = this.client;
    await client.query('BEGIN');
    try {
      const albumIds = [...new Set(tracks.map((t) => t.album_id).filter((a): a is number => a !== null))];
      const albumArtists = albumIds.length > 0 ? await db.selectFrom('albums').select(['id', 'album_artist_id']).where('id', 'in', albumIds).execute() : [];
      const artists = await this.artists([...new Set([...tracks.map((t) => t.artist_id), ...albumArtists.map((a) => a.album_artist_id)])]);
      const albums = await this.albums(albumIds, artists);
      const genreNames = await this.names('genres', genres.map((g) => g.name));
      const genreTagNames = await this.names('genre_tags', tags.filter((t) => t.kind === 'genre').map((t) => t.name));
      const moodNames = await this.names('mood_tags', tags.filter((t) => t.kind === 'mood').map((t) => t.name));

      // the desired SoniqueBay state of each track: its row, links and features
      const wanted = tracks.map((t) => {
        const own = genresOf.get(t.id) ?? [];
        const tagRows = tagsOf.get(t.id) ?? [];
        const moods = tagRows.filter((r) => r.kind === 'mood');
        const a = analysisOf.get(t.id);
        const tagged = tagFeatures(t.bpm_tag, t.key_tag, t.ab_tags);
        const key = keyOf(a?.key ?? tagged.key, a?.scale);
        const moodOf = (name: string) => moods.find((m) => m.name.toLowerCase() === name)?.weight ?? null;
        const features = {
          bpm: a?.bpm ?? tagged.bpm,
          key: key?.key ?? null,
          scale: key?.scale ?? null,
          camelot: a?.camelot ?? (key ? camelotOf(key.key, key.scale) : null),
          danceability: a?.danceability ?? null,
          moods: MOODS.map(moodOf),
          source: a ? 'soniquebay-worker' : 'tags',
          at: a?.analyzed_at ?? null,
        };
        const hasFeatures = features.bpm !== null || features.key !== null || features.danceability !== null || features.moods.some((m) => m !== null);
        const mbid = textOrNull(t.mb_recording_id ?? t.mb_track_id);
        const row = [
          t.title,
          t.album_id !== null ? albums.get(t.album_id) ?? null : null,
          t.path,
          int4OrNull(t.duration),
          t.track_no !== null ? String(t.track_no) : null,
          t.disc_no !== null ? String(t.disc_no) : null,
          textOrNull(t.date ?? t.year),
          own[0]?.name ?? null,
          mbid,
          textOrNull(t.mb_album_id),
          textOrNull(t.mb_artist_id),
          textOrNull(t.mb_album_artist_id),
          fileTypeOf(t.path),
          t.bitrate !== null ? int4OrNull(t.bitrate / 1000) : null,
          t.mtime_ms / 1000,
          int4OrNull(t.file_size),
          artists.get(t.artist_id)!,
          textOrNull((featuredOf.get(t.id) ?? []).map((f) => f.name).join(', ')),
        ];
        const links = {
          genres: idsOf(genreNames, own.map((g) => g.name)),
          genreTags: idsOf(genreTagNames, tagRows.filter((r) => r.kind === 'genre').map((r) => r.name)),
          moodTags: idsOf(moodNames, moods.map((r) => r.name)),
        };
        return { t, row, links, features: hasFeatures ? features : null, hash: hashOf([row, links, hasFeatures ? features : null]) };
      });

      const mapped = new Set(await existing(client, 'tracks', [...map.values()].map((m) => m.sb)));
      const changed = wanted.filter((w) => {
        const m = map.get(w.t.id);
        return !m || !mapped.has(m.sb) || m.hash !== w.hash;
      });
      if (changed.length === 0) {
        await client.query('COMMIT');
        return;
      }
      // tracks.musicbrainz_id is unique: a recording already held by another path (a second copy of
      // one file) is written as NULL rather than failing the batch
      const mbids = changed.map((w) => w.row[8] as string | null).filter((m): m is string => m !== null);
      const holders = mbids.length > 0 ? (await client.query<{ musicbrainz_id: string; path: string }>('SELECT musicbrainz_id, path FROM tracks WHERE musicbrainz_id = ANY($1::text[])', [mbids])).rows : [];
      const holder = new Map(holders.map((h) => [h.musicbrainz_id, h.path]));
      const claimed = new Set<string>();
      for (const w of changed) {
        const mbid = w.row[8] as string | null;
        if (mbid === null) continue;
        const by = holder.get(mbid);
        if ((by !== undefined && by !== w.t.path) || claimed.has(mbid)) w.row[8] = null;
        else claimed.add(mbid);
      }

      const update = changed.filter((w) => mapped.has(map.get(w.t.id)?.sb ?? -1));
      const insert = changed.filter((w) => !update.includes(w));
      const sbOf = new Map<number, number>();
      await updateRows(client, 'tracks', { names: ['id', ...TRACK_COLUMNS.names], types: ['int4', ...TRACK_COLUMNS.types] }, update.map((w) => [map.get(w.t.id)!.sb, ...w.row]), 'date_modified = now()');
      for (const w of update) sbOf.set(w.t.id, map.get(w.t.id)!.sb);
      const inserted = await insertRows<{ id: number; path: string }>(
        client,
        'tracks',
        TRACK_COLUMNS,
        insert.map((w) => w.row),
        `ON CONFLICT (path) DO UPDATE SET ${TRACK_COLUMNS.names.filter((n) => n !== 'path').map((n) => `${n} = EXCLUDED.${n}`).join(', ')}, date_modified = now() RETURNING id, path`,
      );
      const byPath = new Map(inserted.map((r) => [r.path, r.id]));
      for (const w of insert) sbOf.set(w.t.id, byPath.get(w.t.path)!);

      // link tables have no key: the links of a changed track are replaced, never upserted
      const sbIds = changed.map((w) => sbOf.get(w.t.id)!);
      for (const table of ['track_genres', 'track_genre_tags', 'track_mood_tags']) await client.query(`DELETE FROM ${table} WHERE track_id = ANY($1::int4[])`, [sbIds]);
      const pairs = (pick: (w: (typeof changed)[number]) => number[]) => changed.flatMap((w) => pick(w).map((id) => [sbOf.get(w.t.id)!, id]));
      await insertRows(client, 'track_genres', { names: ['track_id', 'genre_id'], types: ['int4', 'int4'] }, pairs((w) => w.links.genres));
      await insertRows(client, 'track_genre_tags', { names: ['track_id', 'tag_id'], types: ['int4', 'int4'] }, pairs((w) => w.links.genreTags));
      await insertRows(client, 'track_mood_tags', { names: ['track_id', 'tag_id'], types: ['int4', 'int4'] }, pairs((w) => w.links.moodTags));

      const withFeatures = changed.filter((w) => w.features !== null);
      const without = changed.filter((w) => w.features === null).map((w) => sbOf.get(w.t.id)!);
      if (without.length > 0) await client.query('DELETE FROM track_audio_features WHERE track_id = ANY($1::int4[])', [without]);
      await insertRows(
        client,
        'track_audio_features',
        FEATURE_COLUMNS,
        withFeatures.map((w) => {
          const f = w.features!;
          return [sbOf.get(w.t.id)!, f.bpm, f.key, f.scale, f.camelot, f.danceability, ...f.moods, f.source, f.at !== null ? new Date(f.at).toISOString() : null];
        }),
        `ON CONFLICT (track_id) DO UPDATE SET ${FEATURE_COLUMNS.names.slice(1).map((n) => `${n} = EXCLUDED.${n}`).join(', ')}, date_modified = now()`,
      );
      await client.query('COMMIT');
      this.report.tracks += changed.length;
      await remember(db, 'track', changed.map((w) => ({ our: w.t.id, sb: sbOf.get(w.t.id)!, hash: w.hash })));
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Our artists in SoniqueBay, created or updated as needed: matched by the id map, else adopted by
   * case-insensitive name as SoniqueBay's API matches them (§4.1), else inserted. Returns our id → theirs.
   */
  private async artists(ids: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const todo = ids.filter((id) => {
      const done = this.artistsDone.get(id);
      if (done !== undefined) out.set(id, done);
      return done === undefined;
    });
    if (todo.length === 0) return out;
    const db = this.db;
    const [rows, lastfm, similar, genres, map] = await Promise.all([
      db.selectFrom('artists').select(['id', 'name', 'mbid']).where('id', 'in', todo).execute(),
      db.selectFrom('artist_lastfm').selectAll().where('artist_id', 'in', todo).execute(),
      db.selectFrom('artist_similar').select(['artist_id', 'name', 'weight']).where('artist_id', 'in', todo).orderBy('weight', 'desc').execute(),
      db.selectFrom('artist_genres as ag').innerJoin('genres as g', 'g.id', 'ag.genre_id').select(['ag.artist_id', 'g.name']).where('ag.artist_id', 'in', todo).orderBy('g.name').execute(),
      mapOf(db, 'artist', todo),
    ]);
    const info = new Map(lastfm.map((l) => [l.artist_id, l]));
    const wanted = await Promise.all(
      rows.map(async (a) => {
        const l = info.get(a.id);
        const cover = await this.cover('artist', a.id);
        const row = [
          a.name,
          textOrNull(a.mbid),
          l?.url ?? null,
          int4OrNull(l?.listeners),
          int4OrNull(l?.playcount),
          l?.tags ?? null,
          l?.similar_fetched_at ? 1 : l ? 0 : null,
          l?.info_fetched_at ? new Date(l.info_fetched_at).toISOString() : null,
        ];
        const similarNames = similar.filter((s) => s.artist_id === a.id).map((s) => [s.name, s.weight] as const);
        const genreNames = genres.filter((g) => g.artist_id === a.id).map((g) => g.name);
        return { a, row, cover, similarNames, genreNames, hash: hashOf([row, cover?.hash ?? null, similarNames, genreNames]) };
      }),
    );
    const client = this.client;
    const alive = await existing(client, 'artists', [...map.values()].map((m) => m.sb));
    const sbOf = new Map<number, number>();
    for (const w of wanted) {
      const m = map.get(w.a.id);
      if (m && alive.has(m.sb)) sbOf.set(w.a.id, m.sb);
    }
    const unmapped = wanted.filter((w) => !sbOf.has(w.a.id));
    if (unmapped.length > 0) {
      // adopt an artist SoniqueBay already has under the same name, case aside (§4.1)
      const found = (await client.query<{ id: number; lname: string }>('SELECT id, lower(trim(name)) AS lname FROM artists WHERE lower(trim(name)) = ANY($1::text[]) ORDER BY id', [unmapped.map((w) => w.a.name.trim().toLowerCase())])).rows;
      const busy = await taken(db, 'artist', found.map((f) => f.id));
      for (const w of unmapped) {
        const match = found.find((f) => f.lname === w.a.name.trim().toLowerCase() && !busy.has(f.id));
        if (match) {
          busy.add(match.id);
          sbOf.set(w.a.id, match.id);
        }
      }
      const create = unmapped.filter((w) => !sbOf.has(w.a.id));
      const created = await insertRows<{ id: number; name: string }>(client, 'artists', { names: ['name'], types: ['text'] }, create.map((w) => [w.a.name]), 'ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id, name');
      const byName = new Map(created.map((c) => [c.name, c.id]));
      for (const w of create) sbOf.set(w.a.id, byName.get(w.a.name)!);
    }
    const changed = wanted.filter((w) => map.get(w.a.id)?.hash !== w.hash || map.get(w.a.id)?.sb !== sbOf.get(w.a.id));
    await updateRows(
      client,
      'artists',
      {
        names: ['id', 'name', 'musicbrainz_artistid', 'lastfm_url', 'lastfm_listeners', 'lastfm_playcount', 'lastfm_tags', 'lastfm_similar_artists_fetched', 'lastfm_info_fetched_at'],
        types: ['int4', 'text', 'text', 'text', 'int4', 'int4', 'text', 'int4', 'timestamptz'],
      },
      changed.map((w) => [sbOf.get(w.a.id)!, ...w.row]),
      'date_modified = now()',
    );
    const sbIds = changed.map((w) => sbOf.get(w.a.id)!);
    if (sbIds.length > 0) {
      await client.query('DELETE FROM artist_genres WHERE artist_id = ANY($1::int4[])', [sbIds]);
      const genreIds = await this.names('genres', changed.flatMap((w) => w.genreNames));
      await insertRows(client, 'artist_genres', { names: ['artist_id', 'genre_id'], types: ['int4', 'int4'] }, changed.flatMap((w) => idsOf(genreIds, w.genreNames).map((g) => [sbOf.get(w.a.id)!, g])));
      await this.writeCovers('ARTIST', changed.map((w) => ({ sb: sbOf.get(w.a.id)!, cover: w.cover })));
      await this.writeSimilar(changed.filter((w) => w.similarNames.length > 0 || info.get(w.a.id)?.similar_fetched_at).map((w) => ({ sb: sbOf.get(w.a.id)!, similar: w.similarNames })));
    }
    for (const w of wanted) {
      out.set(w.a.id, sbOf.get(w.a.id)!);
      this.artistsDone.set(w.a.id, sbOf.get(w.a.id)!);
    }
    this.report.artists += changed.length;
    // the id map is ours: written now (SoniqueBay's transaction may still roll back; the next run
    // then finds the rows by name again, or creates them, and rewrites these)
    await remember(db, 'artist', changed.map((w) => ({ our: w.a.id, sb: sbOf.get(w.a.id)!, hash: w.hash })));
    return out;
  }

  /** Our albums in SoniqueBay: id map, else adopted by (album artist, title) as its API does (§4.1), else inserted. */
  private async albums(ids: number[], artists: Map<number, number>): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const todo = ids.filter((id) => {
      const done = this.albumsDone.get(id);
      if (done !== undefined) out.set(id, done);
      return done === undefined;
    });
    if (todo.length === 0) return out;
    const db = this.db;
    const [rows, genres, map] = await Promise.all([
      db.selectFrom('albums').select(['id', 'title', 'album_artist_id', 'mbid', 'year']).where('id', 'in', todo).execute(),
      db.selectFrom('album_genres as ag').innerJoin('genres as g', 'g.id', 'ag.genre_id').select(['ag.album_id', 'g.name']).where('ag.album_id', 'in', todo).orderBy('g.name').execute(),
      mapOf(db, 'album', todo),
    ]);
    const missingArtists = rows.map((a) => a.album_artist_id).filter((id) => !artists.has(id));
    if (missingArtists.length > 0) for (const [k, v] of await this.artists(missingArtists)) artists.set(k, v);
    const wanted = await Promise.all(
      rows.map(async (a) => {
        const cover = await this.cover('album', a.id);
        const row = [a.title, artists.get(a.album_artist_id)!, releaseYear(a.year), textOrNull(a.mbid)];
        const genreNames = genres.filter((g) => g.album_id === a.id).map((g) => g.name);
        return { a, row, cover, genreNames, hash: hashOf([row, cover?.hash ?? null, genreNames]) };
      }),
    );
    const client = this.client;
    const alive = await existing(client, 'albums', [...map.values()].map((m) => m.sb));
    const sbOf = new Map<number, number>();
    for (const w of wanted) {
      const m = map.get(w.a.id);
      if (m && alive.has(m.sb)) sbOf.set(w.a.id, m.sb);
    }
    const unmapped = wanted.filter((w) => !sbOf.has(w.a.id));
    if (unmapped.length > 0) {
      const found = (
        await client.query<{ id: number; album_artist_id: number; ltitle: string }>(
          'SELECT id, album_artist_id, lower(trim(title)) AS ltitle FROM albums WHERE album_artist_id = ANY($1::int4[]) AND lower(trim(title)) = ANY($2::text[]) ORDER BY id',
          [unmapped.map((w) => w.row[1]), unmapped.map((w) => w.a.title.trim().toLowerCase())],
        )
      ).rows;
      const busy = await taken(db, 'album', found.map((f) => f.id));
      for (const w of unmapped) {
        const match = found.find((f) => f.album_artist_id === w.row[1] && f.ltitle === w.a.title.trim().toLowerCase() && !busy.has(f.id));
        if (match) {
          busy.add(match.id);
          sbOf.set(w.a.id, match.id);
        }
      }
      const create = unmapped.filter((w) => !sbOf.has(w.a.id));
      // no unique key on albums: inserted in order, ids returned in the same order
      const { rows: inserted } =
        create.length > 0
          ? await client.query<{ id: number }>(
              'INSERT INTO albums (title, album_artist_id) SELECT v.title, v.artist FROM unnest($1::text[], $2::int4[]) WITH ORDINALITY AS v(title, artist, ord) ORDER BY v.ord RETURNING id',
              [create.map((w) => w.a.title), create.map((w) => w.row[1])],
            )
          : { rows: [] as { id: number }[] };
      create.forEach((w, i) => sbOf.set(w.a.id, inserted[i]!.id));
    }
    const changed = wanted.filter((w) => map.get(w.a.id)?.hash !== w.hash || map.get(w.a.id)?.sb !== sbOf.get(w.a.id));
    await updateRows(
      client,
      'albums',
      { names: ['id', 'title', 'album_artist_id', 'release_year', 'musicbrainz_albumid'], types: ['int4', 'text', 'int4', 'text', 'text'] },
      changed.map((w) => [sbOf.get(w.a.id)!, ...w.row]),
      'date_modified = now()',
    );
    const sbIds = changed.map((w) => sbOf.get(w.a.id)!);
    if (sbIds.length > 0) {
      await client.query('DELETE FROM album_genres WHERE album_id = ANY($1::int4[])', [sbIds]);
      const genreIds = await this.names('genres', changed.flatMap((w) => w.genreNames));
      await insertRows(client, 'album_genres', { names: ['album_id', 'genre_id'], types: ['int4', 'int4'] }, changed.flatMap((w) => idsOf(genreIds, w.genreNames).map((g) => [sbOf.get(w.a.id)!, g])));
      await this.writeCovers('ALBUM', changed.map((w) => ({ sb: sbOf.get(w.a.id)!, cover: w.cover })));
    }
    for (const w of wanted) {
      out.set(w.a.id, sbOf.get(w.a.id)!);
      this.albumsDone.set(w.a.id, sbOf.get(w.a.id)!);
    }
    this.report.albums += changed.length;
    await remember(db, 'album', changed.map((w) => ({ our: w.a.id, sb: sbOf.get(w.a.id)!, hash: w.hash })));
    return out;
  }

  /** genres / genre_tags / mood_tags by name, case aside (§4.1: the first spelling stays); lower name → id */
  private async names(table: 'genres' | 'genre_tags' | 'mood_tags', names: string[]): Promise<Map<string, number>> {
    const byLower = new Map<string, string>();
    for (const n of names) if (!byLower.has(n.toLowerCase())) byLower.set(n.toLowerCase(), n);
    if (byLower.size === 0) return new Map();
    const client = this.client;
    const find = async () => new Map((await client.query<{ id: number; lname: string }>(`SELECT min(id) AS id, lower(name) AS lname FROM ${table} WHERE lower(name) = ANY($1::text[]) GROUP BY lower(name)`, [[...byLower.keys()]])).rows.map((r) => [r.lname, r.id]));
    let found = await find();
    const create = [...byLower].filter(([lower]) => !found.has(lower)).map(([, name]) => [name]);
    if (create.length > 0) {
      await insertRows(client, table, { names: ['name'], types: ['text'] }, create, `ON CONFLICT (name) DO NOTHING`);
      found = await find();
    }
    return found;
  }

  /** the image our UI would show for an album or artist, read from the image store at 512 px */
  private async cover(entity: 'album' | 'artist', id: number): Promise<{ hash: string; mime: string; file: string } | null> {
    const image = await imageFor(this.db, this.options.images, entity, id, COVER_SIZE, 'jpeg');
    if (!image) return null;
    const mime = coverMime(image.mime);
    return mime ? { hash: `${image.hash}:${COVER_SIZE}`, mime, file: image.path } : null;
  }

  /**
   * One covers row per entity (the API reads `.first()`): no unique key exists any more, so the
   * row is found, updated, and any duplicates removed. entity_type takes the upper-case labels.
   */
  private async writeCovers(type: 'ALBUM' | 'ARTIST', rows: { sb: number; cover: { mime: string; file: string } | null }[]): Promise<void> {
    if (rows.length === 0) return;
    const client = this.client;
    const ids = rows.map((r) => r.sb);
    const { rows: present } = await client.query<{ id: number; entity_id: number }>(`SELECT id, entity_id FROM covers WHERE entity_type = $1::covertype AND entity_id = ANY($2::int4[]) ORDER BY id`, [type, ids]);
    const first = new Map<number, number>();
    const extra: number[] = [];
    for (const p of present) {
      if (first.has(p.entity_id)) extra.push(p.id);
      else first.set(p.entity_id, p.id);
    }
    const gone = rows.filter((r) => r.cover === null && first.has(r.sb)).map((r) => first.get(r.sb)!);
    if (extra.length + gone.length > 0) await client.query('DELETE FROM covers WHERE id = ANY($1::int4[])', [[...extra, ...gone]]);
    const withCover = rows.filter((r) => r.cover !== null).map((r) => ({ ...r, data: fs.readFileSync(r.cover!.file).toString('base64'), url: `/covers/${type.toLowerCase()}/${r.sb}` }));
    await updateRows(
      client,
      'covers',
      { names: ['id', 'cover_data', 'mime_type', 'url'], types: ['int4', 'text', 'text', 'text'] },
      withCover.filter((r) => first.has(r.sb)).map((r) => [first.get(r.sb)!, r.data, r.cover!.mime, r.url]),
      'date_modified = now()',
    );
    await insertRows(
      client,
      'covers',
      { names: ['entity_type', 'entity_id', 'cover_data', 'mime_type', 'url'], types: ['covertype', 'int4', 'text', 'text', 'text'] },
      withCover.filter((r) => !first.has(r.sb)).map((r) => [type, r.sb, r.data, r.cover!.mime, r.url]),
    );
  }

  /** artist_similar has no key: an artist's Last.fm rows are replaced; similar artists SoniqueBay does not have are left out */
  private async writeSimilar(rows: { sb: number; similar: (readonly [string, number])[] }[]): Promise<void> {
    if (rows.length === 0) return;
    const client = this.client;
    await client.query(`DELETE FROM artist_similar WHERE source = 'lastfm' AND artist_id = ANY($1::int4[])`, [rows.map((r) => r.sb)]);
    const names = [...new Set(rows.flatMap((r) => r.similar.map(([n]) => n.trim().toLowerCase())))];
    if (names.length === 0) return;
    const known = new Map((await client.query<{ id: number; lname: string }>('SELECT min(id) AS id, lower(trim(name)) AS lname FROM artists WHERE lower(trim(name)) = ANY($1::text[]) GROUP BY 2', [names])).rows.map((r) => [r.lname, r.id]));
    const links = rows.flatMap((r) => r.similar.flatMap(([n, weight]) => {
      const other = known.get(n.trim().toLowerCase());
      return other !== undefined && other !== r.sb ? [[r.sb, other, weight, 'lastfm']] : [];
    }));
    await insertRows(client, 'artist_similar', { names: ['artist_id', 'similar_artist_id', 'weight', 'source'], types: ['int4', 'int4', 'float8', 'text'] }, links);
  }

  /** albums and artists whose own data changed (covers, Last.fm details, spelling) while their tracks did not */
  private async entities(since: number): Promise<void> {
    const db = this.db;
    const changedOf = async (entity: 'album' | 'artist') => {
      const table = entity === 'album' ? 'albums' : 'artists';
      const rows = await db
        .selectFrom('soniquebay_ids as m')
        .innerJoin(`${table} as e` as 'albums as e', 'e.id', 'm.our_id')
        .select('m.our_id')
        .where('m.entity_type', '=', entity)
        .where((eb) =>
          eb.or([
            eb('e.updated_at', '>', since),
            eb.exists(eb.selectFrom('covers as c').select('c.id').where('c.entity_type', '=', entity).whereRef('c.entity_id', '=', 'm.our_id').where('c.created_at', '>', since)),
            // a cover whose display sizes were rendered since (the sink sends the 512 px one)
            eb.exists(
              eb
                .selectFrom('covers as c')
                .innerJoin('images as i', 'i.hash', 'c.hash')
                .select('c.id')
                .where('c.entity_type', '=', entity)
                .whereRef('c.entity_id', '=', 'm.our_id')
                .where('i.rendered_at', '>', since),
            ),
            ...(entity === 'artist'
              ? [eb.exists(eb.selectFrom('artist_lastfm as l').select('l.artist_id').whereRef('l.artist_id', '=', 'm.our_id').where((e) => e.or([e('l.info_fetched_at', '>', since), e('l.similar_fetched_at', '>', since)])))]
              : []),
          ]),
        )
        .execute();
      return rows.map((r) => r.our_id).filter((id) => !(entity === 'album' ? this.albumsDone : this.artistsDone).has(id));
    };
    const albums = await changedOf('album');
    const artists = await changedOf('artist');
    for (let i = 0; i < Math.max(albums.length, artists.length); i += this.batchSize) {
      await this.client.query('BEGIN');
      try {
        const artistIds = await this.artists(artists.slice(i, i + this.batchSize));
        await this.albums(albums.slice(i, i + this.batchSize), artistIds);
        await this.client.query('COMMIT');
      } catch (err) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  }

  /** tracks deleted or missing on our side leave SoniqueBay, then the albums and artists left without a present track */
  private async removals(): Promise<void> {
    const db = this.db;
    // mapped rows of one entity type that no present track points to through `column`
    const withoutPresentTrack = (entity: 'track' | 'album', column: 't.id' | 't.album_id') =>
      db
        .selectFrom('soniquebay_ids as m')
        .select(['m.our_id', 'm.sb_id'])
        .where('m.entity_type', '=', entity)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('tracks as t').select('t.id').whereRef(column, '=', 'm.our_id').where('t.missing_since', 'is', null))))
        .execute();
    const goneTracks = await withoutPresentTrack('track', 't.id');
    const goneAlbums = await withoutPresentTrack('album', 't.album_id');
    const goneArtists = await db
      .selectFrom('soniquebay_ids as m')
      .select(['m.our_id', 'm.sb_id'])
      .where('m.entity_type', '=', 'artist')
      .where((eb) =>
        eb.and([
          eb.not(eb.exists(eb.selectFrom('tracks as t').select('t.id').whereRef('t.artist_id', '=', 'm.our_id').where('t.missing_since', 'is', null))),
          eb.not(
            eb.exists(
              eb
                .selectFrom('albums as a')
                .innerJoin('tracks as t', 't.album_id', 'a.id')
                .select('a.id')
                .whereRef('a.album_artist_id', '=', 'm.our_id')
                .where('t.missing_since', 'is', null),
            ),
          ),
        ]),
      )
      .execute();
    if (goneTracks.length + goneAlbums.length + goneArtists.length === 0) return;
    const client = this.client;
    await client.query('BEGIN');
    try {
      const tracks = goneTracks.map((t) => t.sb_id);
      if (tracks.length > 0) {
        // covers has no FK: a track's cover rows go by hand; links, features, embeddings cascade
        await client.query(`DELETE FROM covers WHERE entity_type = 'TRACK' AND entity_id = ANY($1::int4[])`, [tracks]);
        this.report.removed.tracks = (await client.query('DELETE FROM tracks WHERE id = ANY($1::int4[])', [tracks])).rowCount ?? 0;
      }
      // an album or artist SoniqueBay still uses for rows that are not ours stays
      const albums = (await client.query<{ id: number }>(`DELETE FROM albums a WHERE a.id = ANY($1::int4[]) AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = a.id) RETURNING id`, [goneAlbums.map((a) => a.sb_id)])).rows.map((r) => r.id);
      if (albums.length > 0) await client.query(`DELETE FROM covers WHERE entity_type = 'ALBUM' AND entity_id = ANY($1::int4[])`, [albums]);
      const artistIds = goneArtists.map((a) => a.sb_id);
      const free = (await client.query<{ id: number }>(`SELECT id FROM artists a WHERE a.id = ANY($1::int4[]) AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.track_artist_id = a.id) AND NOT EXISTS (SELECT 1 FROM albums b WHERE b.album_artist_id = a.id)`, [artistIds])).rows.map((r) => r.id);
      if (free.length > 0) {
        // artist_similar's foreign keys do not cascade
        await client.query('DELETE FROM artist_similar WHERE artist_id = ANY($1::int4[]) OR similar_artist_id = ANY($1::int4[])', [free]);
        await client.query(`DELETE FROM covers WHERE entity_type = 'ARTIST' AND entity_id = ANY($1::int4[])`, [free]);
        await client.query('DELETE FROM artists WHERE id = ANY($1::int4[])', [free]);
      }
      await client.query('COMMIT');
      this.report.removed.albums = albums.length;
      this.report.removed.artists = free.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await forget(db, 'track', goneTracks.map((t) => t.our_id));
    await forget(db, 'album', goneAlbums.map((a) => a.our_id));
    await forget(db, 'artist', goneArtists.map((a) => a.our_id));
    await setCursor(db, 'deletions', this.started);
  }

  /**
   * scan_sessions: SoniqueBay's API opens a row (`running`, task_id = the Celery id) and never
   * sends another scan of that folder while it stays open, so each finished scan closes its row
   * with its counts (our scan id is the Celery id when the scan came through the bridge). A scan
   * SoniqueBay did not start gets a closed row of its own.
   */
  private async closeScans(scans: { id: string; root_path: string; status: string; discovered: number; failed: number; finished_at: number | null }[], addMissing: boolean): Promise<void> {
    for (const scan of scans) {
      const status = scan.status === 'completed' ? 'completed' : 'failed';
      const files = int4OrNull(scan.discovered) ?? 0;
      const updated = await this.client.query(`UPDATE scan_sessions SET status = $2, processed_files = $3, total_files = $3, updated_at = now() WHERE task_id = $1`, [scan.id, status, files]);
      if ((updated.rowCount ?? 0) === 0 && addMissing) {
        await this.client.query(`INSERT INTO scan_sessions (id, directory, status, processed_files, total_files, task_id, started_at, updated_at) VALUES ($1, $2, $3, $4, $4, $5, now(), now())`, [randomUUID(), scan.root_path, status, files, scan.id]);
      }
      await setCursor(this.db, `scan:${scan.id}`, Date.now());
      this.report.scansClosed.push(scan.id);
    }
  }
}

/** the distinct SoniqueBay ids of names (by lower case, as names() keys them), sorted; a name not found is left out */
function idsOf(byLower: Map<string, number>, names: readonly string[]): number[] {
  const ids = names.map((n) => byLower.get(n.toLowerCase())).filter((id): id is number => id !== undefined);
  return [...new Set(ids)].sort((x, y) => x - y);
}

/** our id of a SoniqueBay id (the calls SoniqueBay sends carry its own ids, §4.2) */
export async function ourIdsOf(db: Db, entity: Entity, sbIds: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (let i = 0; i < sbIds.length; i += CHUNK) {
    const rows = await db.selectFrom('soniquebay_ids').select(['our_id', 'sb_id']).where('entity_type', '=', entity).where('sb_id', 'in', sbIds.slice(i, i + CHUNK)).execute();
    for (const r of rows) out.set(r.sb_id, r.our_id);
  }
  return out;
}
