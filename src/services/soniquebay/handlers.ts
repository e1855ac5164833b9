// The tasks behind SoniqueBay's calls (contract §1.2/§1.3) and the sink's own task. SoniqueBay's
// calls carry *its* ids (§4.2) when the sink runs: they are turned into ours through the id map,
// an id we do not know is a clear failure, never a silent success. Without the sink, the ids are
// ours (a client of this worker alone). Paths are matched exactly against our tracks.
import { imagesWaiting } from '../../workers/deferred/render_images.js';
import { PermanentTaskError } from '../../broker/errors.js';
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';
import { extractArtistImages } from '../../workers/covers/artist_images.js';
import { processAlbumCovers } from '../../workers/covers/cover_processor.js';
import { extractEmbeddedCovers } from '../../workers/covers/embedded_covers.js';
import { OutsideLookupsDisabledError, ProviderUnavailableError } from '../http/client.js';
import { lastfmArtistInfo, lastfmSimilarArtists } from '../providers/lastfm.js';
import { nameKey } from '../../workers/scan/names.js';
import { LIBRARY_UPDATE, publishOnce } from './events.js';
import { eventsUrl, sinkSettings } from './settings.js';
import { ourIdsOf, syncSoniqueBay, type SyncReport } from './sink.js';
import { sinkPool } from './target.js';

type Entity = 'artist' | 'album' | 'track';
const TABLE = { artist: 'artists', album: 'albums', track: 'tracks' } as const;

/** one sync at most per this window: every batch asks for one, the window gathers them */
export const SYNC_DEBOUNCE_MS = 2_000;

/** Runs the sink now; a no-op without SONIQUEBAY_SINK_URL. Publishes library_update when it wrote. */
export async function syncNow(ctx: Pick<TaskContext, 'db' | 'services' | 'log'> & { signal?: AbortSignal }, scope: { full?: boolean; deep?: boolean } = {}): Promise<SyncReport | { skipped: string }> {
  const settings = sinkSettings();
  if (!settings) return { skipped: 'no SoniqueBay sink: SONIQUEBAY_SINK_URL is not set' };
  const report = await syncSoniqueBay(ctx.db, sinkPool(settings), { images: ctx.services.images, ...scope, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  const wrote = report.artists + report.albums + report.tracks + report.removed.tracks + report.removed.albums + report.removed.artists > 0;
  const url = eventsUrl();
  if (wrote && url) await publishOnce(url, 'notifications', [LIBRARY_UPDATE]).catch((err: unknown) => ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not publish library_update'));
  if (wrote || report.scansClosed.length > 0) ctx.log.info({ ...report }, 'SoniqueBay sink: mirrored');
  return report;
}

/** the queues whose jobs change what SoniqueBay shows after a batch: covers, analysis, enrichment */
const FOLLOW_UP_QUEUES = ['covers', 'metadata'];
/** while they have work, the sink runs again this much later */
const FOLLOW_UP_SYNC_MS = 10_000;

/** soniquebay.sync: a run of the sink; again a little later while a scan's follow-up work goes on */
export async function syncTask(payload: { full?: boolean; deep?: boolean }, ctx: TaskContext): Promise<SyncReport | { skipped: string }> {
  const report = await syncNow(ctx, { full: payload.full === true || payload.deep === true, deep: payload.deep === true });
  if ('skipped' in report) return report;
  const counts = await ctx.jobs.counts();
  const pending = (q: string) => (counts[q]?.waiting ?? 0) + (counts[q]?.active ?? 0) + (counts[q]?.delayed ?? 0);
  // covers are sent once rendered: again while pictures wait and a render job is queued or running
  const rendering = (counts.deferred?.waiting ?? 0) + (counts.deferred?.active ?? 0) > 0 && (await imagesWaiting(ctx.db)) !== undefined;
  if (FOLLOW_UP_QUEUES.some((q) => pending(q) > 0) || rendering) await requestSync(ctx, FOLLOW_UP_SYNC_MS);
  return report;
}

/** Asks for a sink run soon (after a batch was written): one job per debounce window. */
export async function requestSync(ctx: Pick<TaskContext, 'enqueue' | 'log'>, delayMs = SYNC_DEBOUNCE_MS): Promise<void> {
  if (!sinkSettings()) return;
  const window = Math.floor((Date.now() + delayMs) / SYNC_DEBOUNCE_MS);
  await ctx.enqueue('soniquebay.sync', {}, { jobId: `sync-${window}`, delayMs }).catch((err: unknown) => {
    // the periodic catch-up mirrors it anyway
    ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'SoniqueBay sync not queued');
  });
}

/** Our ids of the ids a call carries: SoniqueBay's through the id map when the sink runs, else ours as they are. */
async function resolve(db: Db, entity: Entity, ids: readonly number[]): Promise<{ ours: number[]; unknown: number[] }> {
  if (sinkSettings()) {
    const map = await ourIdsOf(db, entity, ids);
    return { ours: [...new Set(ids.flatMap((id) => (map.has(id) ? [map.get(id)!] : [])))], unknown: ids.filter((id) => !map.has(id)) };
  }
  const found = new Set<number>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom(TABLE[entity]).select('id').where('id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) found.add(r.id);
  }
  return { ours: ids.filter((id) => found.has(id)), unknown: ids.filter((id) => !found.has(id)) };
}

function unknownIds(entity: Entity, unknown: readonly number[]): PermanentTaskError {
  const whose = sinkSettings() ? `SoniqueBay ${entity} id` : `${entity} id`;
  const why = sinkSettings() ? 'not in the id map: not mirrored by this worker (yet), or not from a file it scanned' : 'no such row in the library';
  return new PermanentTaskError(`unknown ${whose}${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ' …' : ''}: ${why}`);
}

/** the next sync rewrites these entities even if our data did not change (a rescan was asked for) */
async function invalidate(db: Db, entity: Entity, ours: readonly number[]): Promise<void> {
  for (let i = 0; i < ours.length; i += 500) await db.updateTable('soniquebay_ids').set({ hash: null }).where('entity_type', '=', entity).where('our_id', 'in', ours.slice(i, i + 500)).execute();
}

/** covers.process_artist_images([ids], priority=…): artist images from the artist folders now, then mirrored */
export async function artistImagesCall(payload: { artistIds: number[] }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const { ours, unknown } = await resolve(ctx.db, 'artist', payload.artistIds);
  if (ours.length === 0 && unknown.length > 0) throw unknownIds('artist', unknown);
  const counts = ours.length > 0 ? await extractArtistImages({ artistIds: ours }, ctx) : {};
  await invalidate(ctx.db, 'artist', ours);
  await syncNow(ctx);
  return { artists: ours.length, ...counts, ...(unknown.length > 0 ? { unknown } : {}) };
}

/** covers.process_album_covers([ids], priority=…): album covers (embedded, folder) now, then mirrored */
export async function albumCoversCall(payload: { albumIds: number[] }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const { ours, unknown } = await resolve(ctx.db, 'album', payload.albumIds);
  if (ours.length === 0 && unknown.length > 0) throw unknownIds('album', unknown);
  const counts = ours.length > 0 ? await processAlbumCovers({ albumIds: ours }, ctx) : {};
  await invalidate(ctx.db, 'album', ours);
  await syncNow(ctx);
  return { albums: ours.length, ...counts, ...(unknown.length > 0 ? { unknown } : {}) };
}

/**
 * covers.extract_embedded([paths]): SoniqueBay sends file paths (or, from older callers, track
 * ids). A path is matched exactly with our tracks; one we have not scanned is reported, not read.
 */
export async function embeddedCoversCall(payload: { items: (string | number)[] }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const paths = payload.items.filter((i): i is string => typeof i === 'string');
  const byId = await resolve(ctx.db, 'track', payload.items.filter((i): i is number => typeof i === 'number'));
  const found = new Map<string, number>();
  for (let i = 0; i < paths.length; i += 500) {
    const rows = await ctx.db.selectFrom('tracks').select(['id', 'path']).where('path', 'in', paths.slice(i, i + 500)).where('missing_since', 'is', null).execute();
    for (const r of rows) found.set(r.path, r.id);
  }
  const notScanned = paths.filter((p) => !found.has(p));
  const trackIds = [...new Set([...found.values(), ...byId.ours])];
  if (trackIds.length === 0 && payload.items.length > 0) {
    if (notScanned.length > 0) throw new PermanentTaskError(`no track of this library has ${notScanned.length === 1 ? 'this path' : 'these paths'}: ${notScanned.slice(0, 5).join(', ')}${notScanned.length > 5 ? ' …' : ''} (scan the folder first: scan.discovery)`);
    throw unknownIds('track', byId.unknown);
  }
  const result = trackIds.length > 0 ? await extractEmbeddedCovers({ trackIds }, ctx) : {};
  const albums = trackIds.length > 0 ? (await ctx.db.selectFrom('tracks').select('album_id').where('id', 'in', trackIds).execute()).flatMap((t) => (t.album_id !== null ? [t.album_id] : [])) : [];
  await invalidate(ctx.db, 'album', [...new Set(albums)]);
  await syncNow(ctx);
  return { tracks: trackIds.length, ...result, ...(notScanned.length > 0 ? { notScanned } : {}), ...(byId.unknown.length > 0 ? { unknown: byId.unknown } : {}) };
}

/** the Last.fm key and switch, or a clear permanent failure */
function lastfmReady(ctx: TaskContext): string {
  const key = ctx.services.covers.lastfmApiKey;
  if (!key) throw new PermanentTaskError('Last.fm is not configured: set SONIQUEBAY_LASTFM_API_KEY (https://www.last.fm/api/account/create)');
  if (!ctx.services.http.enabled) throw new PermanentTaskError(new OutsideLookupsDisabledError().message);
  return key;
}

async function oneArtist(ctx: TaskContext, artistId: number): Promise<{ id: number; name: string; mbid: string | null }> {
  const { ours, unknown } = await resolve(ctx.db, 'artist', [artistId]);
  if (ours.length === 0) throw unknownIds('artist', unknown);
  return ctx.db.selectFrom('artists').select(['id', 'name', 'mbid']).where('id', '=', ours[0]!).executeTakeFirstOrThrow();
}

/** a rate limit or an outage is retried by the task's policy; anything else is the task's failure */
function lookupError(err: unknown): Error {
  if (err instanceof ProviderUnavailableError) return new Error(`Last.fm: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** lastfm.fetch_artist_info(artist_id): Last.fm URL, listeners, play count, tags, biography */
export async function fetchArtistInfo(payload: { artistId: number }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const key = lastfmReady(ctx);
  const artist = await oneArtist(ctx, payload.artistId);
  let info;
  try {
    info = await lastfmArtistInfo(ctx.services.http, ctx.services.covers.providerUrls.lastfm, key, artist, ctx.signal);
  } catch (err) {
    throw lookupError(err);
  }
  const now = Date.now();
  const row = { url: info?.url ?? null, listeners: info?.listeners ?? null, playcount: info?.playcount ?? null, tags: info ? JSON.stringify(info.tags) : null, bio: info?.bio ?? null, mbid: info?.mbid ?? null, info_fetched_at: now };
  await ctx.db
    .insertInto('artist_lastfm')
    .values({ artist_id: artist.id, similar_fetched_at: null, ...row })
    .onConflict((oc) => oc.column('artist_id').doUpdateSet(row))
    .execute();
  await syncNow(ctx);
  return { artist: artist.name, found: info !== null, ...(info ? { url: info.url, listeners: info.listeners, playcount: info.playcount, tags: info.tags } : {}) };
}

/** lastfm.fetch_similar_artists(artist_id, limit): Last.fm's similar artists, with their match as weight */
export async function fetchSimilarArtists(payload: { artistId: number; limit: number }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const key = lastfmReady(ctx);
  const artist = await oneArtist(ctx, payload.artistId);
  let similar;
  try {
    similar = await lastfmSimilarArtists(ctx.services.http, ctx.services.covers.providerUrls.lastfm, key, artist, payload.limit, ctx.signal);
  } catch (err) {
    throw lookupError(err);
  }
  const now = Date.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('artist_similar').where('artist_id', '=', artist.id).execute();
    const rows = [...new Map(similar.map((s) => [nameKey(s.name), s])).entries()].map(([key, s]) => ({ artist_id: artist.id, name_key: key, name: s.name, mbid: s.mbid, weight: s.match }));
    if (rows.length > 0) await trx.insertInto('artist_similar').values(rows).execute();
    await trx
      .insertInto('artist_lastfm')
      .values({ artist_id: artist.id, url: null, listeners: null, playcount: null, tags: null, bio: null, mbid: null, info_fetched_at: null, similar_fetched_at: now })
      .onConflict((oc) => oc.column('artist_id').doUpdateSet({ similar_fetched_at: now }))
      .execute();
  });
  await syncNow(ctx);
  return { artist: artist.name, similar: similar.map((s) => ({ name: s.name, weight: s.match })) };
}

/**
 * analyze_track_audio_features(track_id, file_path, tags) from a Python batch stage (mixed
 * deployment): the file is matched by path and analysed by our own analysis.
 */
export async function analyzeTrackCall(payload: { filePath: string }, ctx: TaskContext): Promise<Record<string, unknown>> {
  const track = await ctx.db.selectFrom('tracks').select('id').where('path', '=', payload.filePath).where('missing_since', 'is', null).executeTakeFirst();
  if (!track) throw new PermanentTaskError(`no track of this library has the path ${payload.filePath} (scan its folder first: scan.discovery)`);
  const job = await ctx.enqueue('metadata.analyze_audio_batch', { trackIds: [track.id] });
  return { trackId: track.id, queued: job.id };
}
