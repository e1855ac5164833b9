// batch.process_entities: writes one batch of extracted files in one transaction, in dependency
// order artists → albums → genres → tracks → links, every write an upsert on a unique key so two
// batches racing never fail or duplicate. Then queues the later stages of new or changed tracks.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Insertable, Transaction } from 'kysely';
import { TaskNotAvailableError } from '../../broker/errors.js';
import { reusedInsert, reusedListQuery } from '../../db/reused_statements.js';
import { preferredSpelling, preferredSpellingSql } from '../../db/spelling.js';
import { isInside } from '../../services/library/roots.js';
import type { Database, Db, TrackTable } from '../../db/types.js';
import type { FailureContext, TaskContext } from '../../tasks/define.js';
import type { ExtractedTrack, FileError } from './extracted.js';
import { nameKey, VARIOUS_ARTISTS } from './names.js';
import { addCounts, deleteTracks, finalizeIfDone } from './sessions.js';
import { requestSync } from '../../services/soniquebay/handlers.js';

export interface ProcessPayload {
  scanId?: string;
  batchNo?: number;
  items: ExtractedTrack[];
  errors: FileError[];
}

export interface ProcessResult {
  inserted: number;
  updated: number;
  failed: number;
  duplicateBatch?: true;
  scanCompleted?: true;
}

/**
 * Stages that start for every new or changed track, with the task that does each and the tracks a
 * job takes: the embedded covers of a whole batch (200 files) in one job, which the `scan` command
 * runs (each job has a fixed cost on its main thread: claim, lookups, one transaction); 100 for
 * the stages that wait for `run`/`serve` and take minutes a job (decoding, outside lookups).
 */
export const FOLLOW_UP_STAGES = [
  { stage: 'covers', task: 'covers.extract_embedded_covers_batch', perJob: 200, payload: (ids: number[]) => ({ trackIds: ids }) },
  // skipCurrent: an `analyze` run may have got to the track before this job did
  { stage: 'analysis', task: 'metadata.analyze_audio_batch', perJob: 100, payload: (ids: number[]) => ({ trackIds: ids, skipCurrent: true }) },
  { stage: 'enrichment', task: 'metadata.enrich_tracks_batch', perJob: 100, payload: (ids: number[]) => ({ trackIds: ids }) },
] as const;

const CHUNK = 100;
/**
 * Follow-up work is queued directly after each batch; its work-state row only becomes due for the
 * deferred sweeps if it is still not done this much later (a lost job, a task not available yet).
 */
export const FOLLOW_UP_GRACE_MS = 6 * 3_600_000;

export async function processEntities(payload: ProcessPayload, ctx: TaskContext): Promise<ProcessResult> {
  const outcome = await ctx.db.transaction().execute((trx) => writeBatch(trx, payload));
  if (outcome.duplicateBatch) {
    // the job ran before and committed, then died before finishing the scan (a crash between the two):
    // the scan is finished here, or it would stay "running" for ever
    // and the follow-ups it may not have queued: the crash can fall between the commit and the enqueue
    await queueFollowUps(ctx, await followUpsStillPending(ctx.db, payload));
    const scanCompleted = payload.scanId ? await finalizeIfDone(ctx.db, payload.scanId) : false;
    return { inserted: 0, updated: 0, failed: 0, duplicateBatch: true, ...(scanCompleted ? { scanCompleted: true as const } : {}) };
  }
  // after commit: the database already says this work is pending, so a failed enqueue loses nothing
  await queueFollowUps(ctx, { tracks: () => outcome.changedTrackIds, albums: outcome.albumsWithoutArt, artists: outcome.artistsWithoutArt });
  const scanCompleted = payload.scanId ? await finalizeIfDone(ctx.db, payload.scanId) : false;
  // the SoniqueBay sink mirrors it soon (a no-op without SONIQUEBAY_SINK_URL)
  await requestSync(ctx);
  if (payload.scanId) await ctx.progress({ scanId: payload.scanId, stage: 'batch', batchNo: payload.batchNo ?? null, inserted: outcome.inserted, updated: outcome.updated, failed: outcome.failed });
  return { inserted: outcome.inserted, updated: outcome.updated, failed: outcome.failed, ...(scanCompleted ? { scanCompleted: true as const } : {}) };
}

interface WriteOutcome {
  inserted: number;
  updated: number;
  failed: number;
  changedTrackIds: number[];
  /** albums and artists of this batch that have no image yet */
  albumsWithoutArt: number[];
  artistsWithoutArt: number[];
  duplicateBatch?: true;
}

async function writeBatch(trx: Transaction<Database>, payload: ProcessPayload): Promise<WriteOutcome> {
  const now = Date.now();
  const { scanId, batchNo } = payload;
  if (scanId !== undefined && batchNo !== undefined) {
    // a batch counts once even if its job runs twice (crash after commit)
    const counted = await trx.insertInto('scan_batches').values({ scan_id: scanId, batch_no: batchNo, done_at: now }).onConflict((oc) => oc.doNothing()).executeTakeFirst();
    if (Number(counted.numInsertedOrUpdatedRows ?? 0) === 0) return { inserted: 0, updated: 0, failed: 0, changedTrackIds: [], albumsWithoutArt: [], artistsWithoutArt: [], duplicateBatch: true };
  }
  const roots = await trx.selectFrom('library_roots').select(['id', 'path']).execute();
  // the innermost root holding the file; a batch's files share a few folders
  const rootByFolder = new Map<string, (typeof roots)[number] | undefined>();
  const rootOf = (file: string) => {
    const folder = path.dirname(file);
    if (!rootByFolder.has(folder)) rootByFolder.set(folder, roots.filter((r) => isInside(r.path, file)).sort((a, b) => b.path.length - a.path.length)[0]);
    return rootByFolder.get(folder);
  };

  const items = payload.items.filter((item) => rootOf(item.path));
  const errors: FileError[] = [
    ...payload.errors,
    ...payload.items.filter((item) => !rootOf(item.path)).map((item) => ({ path: item.path, size: item.size, mtimeMs: item.mtimeMs, stage: 'batch', message: 'not inside a library root' })),
  ];

  // artists (track artists and album artists), keyed case- and accent-insensitively
  const artistNames = new Map<string, { name: string; mbid: string | null }>();
  const wantArtist = (name: string, mbid: string | null) => {
    const key = nameKey(name);
    const known = artistNames.get(key);
    if (!known) artistNames.set(key, { name, mbid });
    else {
      known.name = preferredSpelling(known.name, name);
      if (!known.mbid && mbid) known.mbid = mbid;
    }
  };
  for (const item of items) {
    item.artists.forEach((a, i) => wantArtist(a, item.mbArtistIds[i] ?? null));
    wantArtist(albumArtistOf(item), item.mbAlbumArtistIds[0] ?? null);
  }
  // keys in sorted order (two batches racing lock rows in the same order)
  const artistIds = new Map<string, number>();
  const artistRows = [...artistNames].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, { name, mbid }]) => ({ name, name_key: key, mbid, created_at: now, updated_at: now }));
  for (const row of await upsertArtists(trx, artistRows, { now })) artistIds.set(row.name_key, row.id);
  const artistId = (name: string) => artistIds.get(nameKey(name))!;

  // albums: a release MBID, else title + album artist (so a compilation stays one album)
  const albums = new Map<string, { title: string; artist: number; item: ExtractedTrack }>();
  const albumKeyOf = (item: ExtractedTrack) => (item.mbAlbumId ? `mbid:${item.mbAlbumId}` : `title:${nameKey(item.album)}|${artistId(albumArtistOf(item))}`);
  for (const item of items) {
    const key = albumKeyOf(item);
    if (!albums.has(key)) albums.set(key, { title: item.album, artist: artistId(albumArtistOf(item)), item });
  }
  const albumIds = new Map<string, number>();
  const albumRows = [...albums]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, album]) => ({
      title: album.title,
      album_key: key,
      album_artist_id: album.artist,
      mbid: album.item.mbAlbumId,
      release_group_mbid: album.item.mbReleaseGroupId,
      year: album.item.year,
      compilation: album.item.compilation ? 1 : 0,
      created_at: now,
      updated_at: now,
    }));
  for (const row of await upsertAlbums(trx, albumRows, { now })) albumIds.set(row.album_key, row.id);

  // genres, case-insensitive unique
  const genreNames = new Map<string, string>();
  for (const item of items) for (const g of item.genres) if (!genreNames.has(nameKey(g))) genreNames.set(nameKey(g), g);
  const genreIds = new Map<string, number>();
  const genreRows = [...genreNames].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, name]) => ({ name, name_key: key }));
  for (const row of await upsertGenres(trx, genreRows, {})) genreIds.set(row.name_key, row.id);

  // tracks, upserted by path
  const existing = new Map<string, { id: number; size: number; mtime: number }>();
  for (const r of await tracksAt(trx, items.map((t) => t.path), {})) existing.set(r.path, { id: r.id, size: r.file_size, mtime: r.mtime_ms });
  const trackRows = items.map((item) => trackRow(item, rootOf(item.path)!.id, artistId(item.artists[0]!), albumIds.get(albumKeyOf(item))!, scanId ?? null, now));
  const trackIds = new Map<string, number>();
  for (const r of await upsertTracks(trx, trackRows, {})) trackIds.set(r.path, r.id);
  let inserted = 0;
  let updated = 0;
  const changed: number[] = [];
  for (const item of items) {
    const before = existing.get(item.path);
    if (!before) inserted++;
    else updated++;
    changed.push(trackIds.get(item.path)!);
  }

  // links: replaced for the tracks of this batch
  const ids = [...trackIds.values()];
  await deleteTrackArtists(trx, ids, {});
  await deleteTrackGenres(trx, ids, {});
  const trackArtists = items.flatMap((item) => item.artists.map((a, position) => ({ track_id: trackIds.get(item.path)!, artist_id: artistId(a), position })));
  const trackGenres = items.flatMap((item) => item.genres.map((g) => ({ track_id: trackIds.get(item.path)!, genre_id: genreIds.get(nameKey(g))! })));
  const albumGenres = items.flatMap((item) => item.genres.map((g) => ({ album_id: albumIds.get(albumKeyOf(item))!, genre_id: genreIds.get(nameKey(g))! })));
  const artistGenres = items.flatMap((item) => item.genres.map((g) => ({ artist_id: artistId(item.artists[0]!), genre_id: genreIds.get(nameKey(g))! })));
  await insertIgnoring(trx, 'track_artists', dedupe(trackArtists, (r) => `${r.track_id}:${r.artist_id}`));
  await insertIgnoring(trx, 'track_genres', dedupe(trackGenres, (r) => `${r.track_id}:${r.genre_id}`));
  await insertIgnoring(trx, 'album_genres', dedupe(albumGenres, (r) => `${r.album_id}:${r.genre_id}`));
  await insertIgnoring(trx, 'artist_genres', dedupe(artistGenres, (r) => `${r.artist_id}:${r.genre_id}`));

  // error rows: one per unreadable file; a file that reads fine again loses its error row
  const readPaths = items.map((t) => t.path);
  await deleteErrorsAt(trx, readPaths, {});
  for (const error of errors) {
    const row = {
      path: error.path,
      root_id: rootOf(error.path)?.id ?? null,
      folder: path.dirname(error.path),
      scan_id: scanId ?? null,
      stage: error.stage,
      message: error.message,
      file_size: error.transient ? null : error.size,
      mtime_ms: error.transient ? null : error.mtimeMs,
      created_at: now,
    };
    await trx
      .insertInto('scan_errors')
      .values(row)
      .onConflict((oc) => oc.column('path').doUpdateSet({ scan_id: row.scan_id, stage: row.stage, message: row.message, file_size: row.file_size, mtime_ms: row.mtime_ms, created_at: now }))
      .execute();
  }
  // a file that became unreadable for good (corrupt, unsupported) no longer has a track; a transient
  // failure keeps it, and leaves its folder to be compared again (its fingerprint is not promoted)
  const erroredPaths = errors.filter((e) => !e.transient).map((e) => e.path);
  for (let i = 0; i < erroredPaths.length; i += CHUNK) {
    const ids = await trx.selectFrom('tracks').select('id').where('path', 'in', erroredPaths.slice(i, i + CHUNK)).execute();
    await deleteTracks(trx, ids.map((t) => t.id));
  }
  const dirtyFolders = [...new Set(errors.filter((e) => e.transient).map((e) => path.dirname(e.path)))];
  for (let i = 0; i < dirtyFolders.length; i += CHUNK) {
    await trx.updateTable('folders').set({ fingerprint: null, pending_fingerprint: null, pending_scan_id: null }).where('path', 'in', dirtyFolders.slice(i, i + CHUNK)).execute();
  }

  // the later stages are due for new and changed tracks: the database is the record of that
  const due = now + FOLLOW_UP_GRACE_MS;
  const work = changed.flatMap((id) => FOLLOW_UP_STAGES.map(({ stage }) => ({ entity_type: 'track' as const, entity_id: id, stage, status: 'pending' as const, attempts: 0, next_attempt_at: due, last_error: null, updated_at: now })));
  await upsertTrackWork(trx, work, { due, now });

  // albums and artists still without art get their own pending work (local files first)
  const albumsWithoutArt = await withoutArt(trx, 'album', [...albumIds.values()]);
  const artistsWithoutArt = await withoutArt(trx, 'artist', [...artistIds.values()]);
  const artWork = [
    ...albumsWithoutArt.map((id) => ({ entity_type: 'album' as const, entity_id: id, stage: 'cover' })),
    ...artistsWithoutArt.map((id) => ({ entity_type: 'artist' as const, entity_id: id, stage: 'image' })),
  ].map((w) => ({ ...w, status: 'pending' as const, attempts: 0, next_attempt_at: due, last_error: null, updated_at: now }));
  await upsertArtWork(trx, artWork, { due, now });

  if (scanId) await addCounts(trx, scanId, { extracted: items.length, inserted, updated, failed: errors.length, batches_done: batchNo !== undefined ? 1 : 0 });
  return { inserted, updated, failed: errors.length, changedTrackIds: changed, albumsWithoutArt, artistsWithoutArt };
}

async function withoutArt(trx: Transaction<Database>, entity: 'album' | 'artist', ids: number[]): Promise<number[]> {
  const have = new Set((await coveredAmong(trx, ids, { entity })).map((r) => r.entity_id));
  return ids.filter((id) => !have.has(id));
}

/** An album's artist: the album-artist tag, else Various Artists for a compilation, else the track artist. */
function albumArtistOf(item: ExtractedTrack): string {
  return item.albumArtists[0] ?? (item.compilation ? VARIOUS_ARTISTS : item.artists[0]!);
}

/** The MusicBrainz recording id, else what a copy of the same file would share: tags, duration, size. */
export function identityOf(item: ExtractedTrack): string {
  if (item.mbRecordingId) return `mb:${item.mbRecordingId}`;
  const basis = [nameKey(item.title), nameKey(item.artistDisplay), nameKey(item.album), Math.round(item.duration ?? 0), item.size].join('|');
  return `h:${createHash('sha1').update(basis).digest('hex')}`;
}

function trackRow(item: ExtractedTrack, rootId: number, artistId: number, albumId: number, scanId: string | null, now: number): Insertable<TrackTable> {
  return {
    path: item.path,
    root_id: rootId,
    folder: path.dirname(item.path),
    file_size: item.size,
    mtime_ms: item.mtimeMs,
    identity: identityOf(item),
    format: item.format,
    codec: item.codec,
    lossless: item.lossless === null ? null : item.lossless ? 1 : 0,
    duration: item.duration,
    bitrate: item.bitrate,
    sample_rate: item.sampleRate,
    channels: item.channels,
    bit_depth: item.bitDepth,
    title: item.title,
    artist_display: item.artistDisplay,
    album_artist_display: item.albumArtistDisplay ?? (item.albumArtists.length > 0 ? item.albumArtists.join('; ') : null),
    album_id: albumId,
    artist_id: artistId,
    disc_no: item.discNo,
    disc_total: item.discTotal,
    track_no: item.trackNo,
    track_total: item.trackTotal,
    year: item.year,
    date: item.date,
    original_date: item.originalDate,
    composer: item.composer,
    label: item.label,
    isrc: item.isrc,
    mb_track_id: item.mbTrackId,
    mb_recording_id: item.mbRecordingId,
    mb_album_id: item.mbAlbumId,
    mb_artist_id: item.mbArtistIds[0] ?? null,
    mb_album_artist_id: item.mbAlbumArtistIds[0] ?? null,
    mb_release_group_id: item.mbReleaseGroupId,
    compilation: item.compilation ? 1 : 0,
    rg_track_gain: item.rgTrackGain,
    rg_track_peak: item.rgTrackPeak,
    rg_album_gain: item.rgAlbumGain,
    rg_album_peak: item.rgAlbumPeak,
    has_lyrics: item.hasLyrics ? 1 : 0,
    has_picture: item.pictureHash ? 1 : 0,
    picture_hash: item.pictureHash,
    bpm_tag: item.bpm,
    key_tag: item.key,
    ab_tags: Object.keys(item.abTags).length > 0 ? JSON.stringify(item.abTags) : null,
    fallbacks: item.fallbacks.length > 0 ? JSON.stringify(item.fallbacks) : null,
    missing_scan_id: null,
    missing_since: null,
    last_scan_id: scanId,
    created_at: now,
    updated_at: now,
  };
}

/** every column an upsert refreshes: all but the id, the path and the creation time */
const UPDATED_COLUMNS = [
  'root_id', 'folder', 'file_size', 'mtime_ms', 'identity', 'format', 'codec', 'lossless', 'duration', 'bitrate',
  'sample_rate', 'channels', 'bit_depth', 'title', 'artist_display', 'album_artist_display', 'album_id', 'artist_id',
  'disc_no', 'disc_total', 'track_no', 'track_total', 'year', 'date', 'original_date', 'composer', 'label', 'isrc',
  'mb_track_id', 'mb_recording_id', 'mb_album_id', 'mb_artist_id', 'mb_album_artist_id', 'mb_release_group_id',
  'compilation', 'rg_track_gain', 'rg_track_peak', 'rg_album_gain', 'rg_album_peak', 'has_lyrics', 'has_picture',
  'picture_hash', 'bpm_tag', 'key_tag', 'ab_tags', 'fallbacks', 'missing_scan_id', 'missing_since', 'last_scan_id', 'updated_at',
] as const;

function dedupe<T>(rows: T[], key: (row: T) => string): T[] {
  const seen = new Set<string>();
  return rows.filter((r) => (seen.has(key(r)) ? false : (seen.add(key(r)), true)));
}

type LinkTable = 'track_artists' | 'track_genres' | 'album_genres' | 'artist_genres';

async function insertIgnoring<T extends LinkTable>(trx: Transaction<Database>, table: T, rows: Insertable<Database[T]>[]): Promise<void> {
  await LINK_INSERTS[table](trx, rows, {});
}

// The batch's statements, each compiled once per shape (db/reused_statements.ts), CHUNK rows a statement
// (keys in sorted order: two batches racing lock rows in the same order). The upserts take the
// batch's clock as a named value: a statement keeps no value of the batch that built it.
type Clock = { now: number };
const upsertArtists = reusedInsert((db, rows, { now }: Clock) =>
  db
    .insertInto('artists')
    .values(rows as never)
    .onConflict((oc) => oc.column('name_key').doUpdateSet((eb) => ({ name: preferredSpellingSql(db, 'artists.name', 'excluded.name'), mbid: eb.fn.coalesce('artists.mbid', 'excluded.mbid'), updated_at: now })))
    .returning(['id', 'name_key']),
  CHUNK,
);
const upsertAlbums = reusedInsert((db, rows, { now }: Clock) =>
  db
    .insertInto('albums')
    .values(rows as never)
    .onConflict((oc) =>
      oc.column('album_key').doUpdateSet((eb) => ({
        year: eb.fn.coalesce('albums.year', 'excluded.year'),
        release_group_mbid: eb.fn.coalesce('albums.release_group_mbid', 'excluded.release_group_mbid'),
        updated_at: now,
      })),
    )
    .returning(['id', 'album_key']),
  CHUNK,
);
const upsertGenres = reusedInsert((db, rows) =>
  db
    .insertInto('genres')
    .values(rows as never)
    // a no-op update, so that RETURNING also gives the id of a genre that exists
    .onConflict((oc) => oc.column('name_key').doUpdateSet((eb) => ({ name_key: eb.ref('excluded.name_key') })))
    .returning(['id', 'name_key']),
  CHUNK,
);
const upsertTracks = reusedInsert((db, rows) =>
  db
    .insertInto('tracks')
    .values(rows as never)
    .onConflict((oc) => oc.column('path').doUpdateSet((eb) => Object.fromEntries(UPDATED_COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)])) as never))
    .returning(['id', 'path']),
  CHUNK,
);
const upsertTrackWork = reusedInsert((db, rows, { due, now }: Clock & { due: number }) =>
  db
    .insertInto('work_state')
    .values(rows as never)
    .onConflict((oc) => oc.columns(['entity_type', 'entity_id', 'stage']).doUpdateSet({ status: 'pending', attempts: 0, next_attempt_at: due, last_error: null, updated_at: now })),
  CHUNK,
);
const upsertArtWork = reusedInsert((db, rows, { due, now }: Clock & { due: number }) =>
  db
    .insertInto('work_state')
    .values(rows as never)
    .onConflict((oc) => oc.columns(['entity_type', 'entity_id', 'stage']).doUpdateSet({ status: 'pending', next_attempt_at: due, updated_at: now })),
  CHUNK,
);
const tracksAt = reusedListQuery((db, paths: string[]) => db.selectFrom('tracks').select(['id', 'path', 'file_size', 'mtime_ms']).where('path', 'in', paths), CHUNK);
const deleteTrackArtists = reusedListQuery((db, ids: number[]) => db.deleteFrom('track_artists').where('track_id', 'in', ids), CHUNK);
const deleteTrackGenres = reusedListQuery((db, ids: number[]) => db.deleteFrom('track_genres').where('track_id', 'in', ids), CHUNK);
const deleteErrorsAt = reusedListQuery((db, paths: string[]) => db.deleteFrom('scan_errors').where('path', 'in', paths), CHUNK);
const coveredAmong = reusedListQuery((db, ids: number[], { entity }: { entity: 'album' | 'artist' }) => db.selectFrom('covers').select('entity_id').where('entity_type', '=', entity).where('entity_id', 'in', ids), CHUNK);
const linkInsert = (table: LinkTable) => reusedInsert((db, rows) => db.insertInto(table).values(rows as never).onConflict((oc) => oc.doNothing()), CHUNK);
const LINK_INSERTS: Record<LinkTable, ReturnType<typeof linkInsert>> = {
  track_artists: linkInsert('track_artists'),
  track_genres: linkInsert('track_genres'),
  album_genres: linkInsert('album_genres'),
  artist_genres: linkInsert('artist_genres'),
};

/**
 * The follow-up work a committed batch recorded and that has not started yet (pending, never
 * attempted): what its first run would have queued. Queued twice at worst, and every stage is
 * idempotent; work that failed and waits for its backoff is left to its schedule.
 */
async function followUpsStillPending(db: Db, payload: ProcessPayload): Promise<FollowUps> {
  const paths = payload.items.map((item) => item.path);
  const tracks: { id: number; album_id: number | null }[] = [];
  for (let i = 0; i < paths.length; i += CHUNK) tracks.push(...(await db.selectFrom('tracks').select(['id', 'album_id']).where('path', 'in', paths.slice(i, i + CHUNK)).execute()));
  const trackIds = tracks.map((t) => t.id);
  const albumIds = [...new Set(tracks.flatMap((t) => (t.album_id === null ? [] : [t.album_id])))];
  const artistIds = new Set<number>();
  for (let i = 0; i < trackIds.length; i += CHUNK) {
    for (const r of await db.selectFrom('track_artists').select('artist_id').where('track_id', 'in', trackIds.slice(i, i + CHUNK)).execute()) artistIds.add(r.artist_id);
  }
  for (let i = 0; i < albumIds.length; i += CHUNK) {
    for (const r of await db.selectFrom('albums').select('album_artist_id').where('id', 'in', albumIds.slice(i, i + CHUNK)).execute()) if (r.album_artist_id !== null) artistIds.add(r.album_artist_id);
  }
  const pending = async (entity: 'track' | 'album' | 'artist', stages: string[], ids: number[]) => {
    const found: { entity_id: number; stage: string }[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      found.push(
        ...(await db
          .selectFrom('work_state')
          .select(['entity_id', 'stage'])
          .where('entity_type', '=', entity)
          .where('stage', 'in', stages)
          .where('status', '=', 'pending')
          .where('attempts', '=', 0)
          .where('entity_id', 'in', ids.slice(i, i + CHUNK))
          .execute()),
      );
    }
    return found;
  };
  const tracksPending = await pending('track', FOLLOW_UP_STAGES.map((s) => s.stage), trackIds);
  return {
    tracks: (stage) => tracksPending.filter((r) => r.stage === stage).map((r) => r.entity_id),
    albums: (await pending('album', ['cover'], albumIds)).map((r) => r.entity_id),
    artists: (await pending('artist', ['image'], [...artistIds])).map((r) => r.entity_id),
  };
}

/** What a batch queues after its commit: each stage's tracks, the albums and artists without art. */
interface FollowUps {
  tracks(stage: (typeof FOLLOW_UP_STAGES)[number]['stage']): number[];
  albums: number[];
  artists: number[];
}

/** Queues each later stage that is available; the others stay pending in work_state for the deferred sweeps. */
async function queueFollowUps(ctx: TaskContext, followUps: FollowUps): Promise<void> {
  const jobs: { task: string; payload: (ids: number[]) => unknown; ids: number[]; perJob: number }[] = [
    ...FOLLOW_UP_STAGES.map(({ stage, task, payload, perJob }) => ({ task, payload, perJob, ids: followUps.tracks(stage) })),
    { task: 'covers.process_album_covers', payload: (ids: number[]) => ({ albumIds: ids }), ids: followUps.albums, perJob: CHUNK },
    { task: 'covers.extract_artist_images_batch', payload: (ids: number[]) => ({ artistIds: ids }), ids: followUps.artists, perJob: CHUNK },
  ];
  for (const { task, payload, ids, perJob } of jobs) {
    for (let i = 0; i < ids.length; i += perJob) {
      try {
        await ctx.enqueue(task, payload(ids.slice(i, i + perJob)));
      } catch (err) {
        if (!(err instanceof TaskNotAvailableError)) {
          ctx.log.warn({ err: err instanceof Error ? err.message : String(err), task }, 'follow-up not queued; it stays pending in work_state');
        }
        break;
      }
    }
  }
}

/**
 * When the batch could not be written after its retries, each of its files becomes an error row
 * with the reason, and the batch still counts towards its scan's completion.
 */
export async function processEntitiesFailed(payload: ProcessPayload, ctx: FailureContext, error: string): Promise<void> {
  const failed: FileError[] = [
    ...payload.errors,
    ...payload.items.map((item) => ({ path: item.path, size: item.size, mtimeMs: item.mtimeMs, stage: 'batch', message: `could not be written: ${error}`, transient: true })),
  ];
  await ctx.db.transaction().execute((trx) => writeBatch(trx, { ...payload, items: [], errors: failed }));
  if (payload.scanId) await finalizeIfDone(ctx.db, payload.scanId);
}
