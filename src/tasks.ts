// ALL tasks of the worker, declared once: name, queue, payload schema, retries, timeout, handler.
// The queue of each task here is the one routing table: producers name a task, never a queue.
// Names follow `worker_type.function_name` (../shared/design/tasks.md); old names live in tasks/legacy.ts.
import os from 'node:os';
import { z } from './utils/schema.js';
import { createRegistry, defineTask, type QueueSettings, type TaskRegistry } from './tasks/define.js';
import { LEGACY_ALIASES } from './tasks/legacy.js';
import { extractArtistImages } from './workers/covers/artist_images.js';
import { processAlbumCovers } from './workers/covers/cover_processor.js';
import { extractEmbeddedCovers } from './workers/covers/embedded_covers.js';
import { processCoversBatch } from './workers/deferred/covers_deferred.js';
import { processEnrichmentBatch } from './workers/deferred/enrichment_deferred.js';
import { analyzeAudioBatch } from './workers/metadata/audio_analysis.js';
import { healthReport } from './workers/maintenance/health_report.js';
import { MISSING_GRACE_DAYS, purgeMissingTracks } from './workers/maintenance/purge_missing.js';
import { enrichTracksBatch } from './workers/metadata/enrichment_worker.js';
import { cleanupExpired } from './workers/deferred/cleanup_expired.js';
import { retryFailed } from './workers/deferred/retry_failed.js';
import { processVectorsBatch } from './workers/deferred/vectors_deferred.js';
import { renderImages } from './workers/deferred/render_images.js';
import { processEntities, processEntitiesFailed } from './workers/scan/batch_processor.js';
import { extractedTrackSchema, fileErrorSchema } from './workers/scan/extracted.js';
import { extractBatch, extractBatchFailed } from './workers/scan/extract_batch.js';
import { discovery } from './workers/scan/scan_worker.js';
import { failScan } from './workers/scan/sessions.js';
import { calculateVector, calculateVectorsBatch } from './workers/vectorization/calculate_vectors.js';
import { checkModelHealth, monitorTagChanges } from './workers/vectorization/model_watch.js';
import { trainModel } from './workers/vectorization/train_model.js';
import { albumCoversCall, analyzeTrackCall, artistImagesCall, embeddedCoversCall, fetchArtistInfo, fetchSimilarArtists, syncTask } from './services/soniquebay/handlers.js';

export const QUEUE_NAMES = [
  'scan',
  'extract',
  'batch',
  'metadata',
  'covers',
  'vectorization',
  'deferred',
  'maintenance',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Default concurrency per queue for one process (embedded mode runs them all in one). */
export function defaultQueueSettings(cores = os.availableParallelism()): Record<QueueName, QueueSettings> {
  return {
    scan: { concurrency: 1 },
    extract: { concurrency: cores },
    batch: { concurrency: 1 },
    metadata: { concurrency: Math.max(1, cores - 1) },
    covers: { concurrency: 2 },
    vectorization: { concurrency: 1 },
    deferred: { concurrency: 1 },
    maintenance: { concurrency: 1 },
  };
}

const id = z.int().check(z.positive());
const ids = z.array(id).check(z.minLength(1), z.maxLength(10_000));
const limit = z.int().check(z.positive(), z.lte(10_000));
const scanId = z.string().check(z.minLength(1), z.maxLength(100));
const batchNo = z.int().check(z.gte(1));
const MIN = 60_000;
const HOUR = 60 * MIN;


/** periodic sweeps run again at their next tick instead of retrying */
const NO_RETRY = { attempts: 1, backoff: { baseMs: 0, factor: 1, capMs: 0 } };

export const TASKS = [
  defineTask({
    name: 'scan.discovery',
    queue: 'scan',
    description: 'walks a library root, skips unchanged folders and files, emits batches of paths',
    schema: z.strictObject({ root: z.string().check(z.minLength(1)), scanId: z.optional(scanId), full: z.optional(z.boolean()) }),
    retry: { attempts: 3, backoff: { baseMs: 30_000, factor: 2, capMs: 10 * MIN } },
    timeoutMs: 12 * HOUR,
    positional: ['root'],
    handler: discovery,
    onFinalFailure: async (payload, ctx, error) => {
      if (payload.scanId) await failScan(ctx.db, payload.scanId, error);
    },
  }),
  defineTask({
    name: 'metadata.extract_batch',
    queue: 'extract',
    description: 'reads tags and audio properties of a batch of files; a bad file is an error row',
    schema: z.strictObject({ scanId: z.optional(scanId), batchNo: z.optional(batchNo), paths: z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(5_000)) }),
    timeoutMs: 30 * MIN,
    positional: ['paths'],
    handler: extractBatch,
    onFinalFailure: extractBatchFailed,
  }),
  defineTask({
    name: 'batch.process_entities',
    queue: 'batch',
    description: 'upserts artists, albums, genres, tracks and links of a batch in one transaction',
    schema: z.strictObject({
      scanId: z.optional(scanId),
      batchNo: z.optional(batchNo),
      items: z.array(extractedTrackSchema).check(z.maxLength(5_000)),
      errors: z._default(z.array(fileErrorSchema).check(z.maxLength(5_000)), []),
    }),
    retry: { attempts: 5, backoff: { baseMs: 2_000, factor: 2, capMs: 5 * MIN } },
    timeoutMs: 10 * MIN,
    positional: ['items'],
    handler: processEntities,
    onFinalFailure: processEntitiesFailed,
  }),
  defineTask({
    name: 'covers.extract_embedded_covers_batch',
    queue: 'covers',
    description: 'stores the embedded picture of each track once per content hash, with rendered sizes',
    schema: z.strictObject({ trackIds: ids }),
    timeoutMs: 30 * MIN,
    positional: ['trackIds'],
    handler: extractEmbeddedCovers,
  }),
  defineTask({
    name: 'covers.process_album_covers',
    queue: 'covers',
    description: 'album art: embedded, then folder files, then (deferred) Cover Art Archive by MBID',
    schema: z.strictObject({ albumIds: ids, outside: z.optional(z.boolean()) }),
    timeoutMs: 30 * MIN,
    positional: ['albumIds'],
    handler: processAlbumCovers,
  }),
  defineTask({
    name: 'covers.extract_artist_images_batch',
    queue: 'covers',
    description: 'artist images: artist folder files, then (deferred) outside providers',
    schema: z.strictObject({ artistIds: ids, outside: z.optional(z.boolean()) }),
    timeoutMs: 30 * MIN,
    positional: ['artistIds'],
    handler: extractArtistImages,
  }),
  defineTask({
    name: 'metadata.analyze_audio_batch',
    queue: 'metadata',
    description: 'decodes each track once: BPM, key, loudness/ReplayGain, energy, spectral/MFCC/chroma summary',
    schema: z.strictObject({ trackIds: ids, skipCurrent: z.optional(z.boolean()) }),
    timeoutMs: 2 * HOUR,
    positional: ['trackIds'],
    handler: analyzeAudioBatch,
  }),
  defineTask({
    name: 'metadata.enrich_tracks_batch',
    queue: 'metadata',
    description: 'moods and genre tags from ab:* tags; Last.fm top tags on the deferred path (outside: true)',
    schema: z.strictObject({ trackIds: ids, outside: z.optional(z.boolean()) }),
    timeoutMs: 30 * MIN,
    positional: ['trackIds'],
    handler: enrichTracksBatch,
  }),
  defineTask({
    name: 'vectorization.calculate_vector',
    queue: 'vectorization',
    description: 'vector of one track with the current model',
    schema: z.strictObject({ trackId: id }),
    timeoutMs: 5 * MIN,
    positional: ['trackId'],
    handler: calculateVector,
  }),
  defineTask({
    name: 'vectorization.calculate_vectors_batch',
    queue: 'vectorization',
    description: 'vectors of a batch of tracks with the live models (or the one model `version`)',
    schema: z.strictObject({ trackIds: ids, version: z.optional(z.int().check(z.positive())) }),
    timeoutMs: 30 * MIN,
    positional: ['trackIds'],
    handler: calculateVectorsBatch,
  }),
  defineTask({
    name: 'vectorization.train_model',
    queue: 'vectorization',
    description: 'fits a new feature model version on the library and re-vectorises in batches',
    schema: z.strictObject({ reason: z.string().check(z.minLength(1), z.maxLength(500)), force: z.optional(z.boolean()) }),
    retry: { attempts: 2, backoff: { baseMs: 10 * MIN, factor: 2, capMs: HOUR } },
    timeoutMs: 6 * HOUR,
    positional: ['reason', 'force'],
    handler: trainModel,
  }),
  defineTask({
    name: 'vectorization.monitor_tag_changes',
    queue: 'vectorization',
    description: "compares the library's tag/genre signature with the model's; retrains when due",
    schema: z.strictObject({}),
    timeoutMs: 10 * MIN,
    handler: monitorTagChanges,
  }),
  defineTask({
    name: 'vectorization.check_model_health',
    queue: 'vectorization',
    description: 'model age, coverage, version mismatch',
    schema: z.strictObject({}),
    timeoutMs: 10 * MIN,
    handler: checkModelHealth,
  }),
  defineTask({
    name: 'deferred.process_enrichment_batch',
    queue: 'deferred',
    description: 'queues due analysis and enrichment work and the Last.fm lookups (low priority)',
    schema: z.strictObject({ limit: z._default(limit, 10) }),
    retry: NO_RETRY,
    timeoutMs: 15 * MIN,
    priority: 10,
    positional: ['limit'],
    handler: processEnrichmentBatch,
  }),
  defineTask({
    name: 'deferred.process_covers_batch',
    queue: 'deferred',
    description: 'queues the due outside lookups of album covers and artist images (low priority)',
    schema: z.strictObject({ limit: z._default(limit, 5) }),
    retry: NO_RETRY,
    timeoutMs: 15 * MIN,
    priority: 10,
    positional: ['limit'],
    handler: processCoversBatch,
  }),
  defineTask({
    name: 'deferred.process_vectors_batch',
    queue: 'deferred',
    description: 'queues ready tracks that lack a vector of a live model (a lost job, no model yet)',
    schema: z.strictObject({ limit: z._default(limit, 50) }),
    retry: NO_RETRY,
    timeoutMs: 15 * MIN,
    priority: 10,
    positional: ['limit'],
    handler: processVectorsBatch,
  }),
  defineTask({
    name: 'deferred.render_images',
    queue: 'deferred',
    description: 'renders the display sizes of stored covers and artist images (after the scan, low priority)',
    schema: z.strictObject({ limit: z._default(limit, 200) }),
    retry: NO_RETRY,
    timeoutMs: 30 * MIN,
    priority: 10,
    positional: ['limit'],
    handler: renderImages,
  }),
  defineTask({
    name: 'deferred.retry_failed',
    queue: 'deferred',
    description: 'makes failed work (failed for a day at least) due again, a few items per tick',
    schema: z.strictObject({ stage: z.optional(z.string().check(z.minLength(1))), limit: z._default(limit, 5) }),
    retry: NO_RETRY,
    timeoutMs: 5 * MIN,
    priority: 10,
    positional: ['limit'],
    handler: retryFailed,
  }),
  defineTask({
    name: 'deferred.cleanup_expired',
    queue: 'maintenance',
    description: 'prunes finished job records, orphan images, tracks of deleted files',
    schema: z.strictObject({ olderThanDays: z._default(z.int().check(z.gte(0), z.lte(3650)), 7) }),
    retry: NO_RETRY,
    timeoutMs: HOUR,
    priority: 10,
    positional: ['olderThanDays'],
    handler: cleanupExpired,
  }),
  defineTask({
    name: 'maintenance.health_report',
    queue: 'maintenance',
    description: 'queue depths, failures, oldest due work, model state',
    schema: z.strictObject({}),
    retry: NO_RETRY,
    timeoutMs: 5 * MIN,
    priority: 10,
    handler: healthReport,
  }),
  // SoniqueBay: the sink (docs/soniquebay.md) and the calls its API sends with its own ids or paths
  defineTask({
    name: 'soniquebay.sync',
    queue: 'batch',
    description: "mirrors what changed in the library into SoniqueBay's database (SONIQUEBAY_SINK_URL)",
    schema: z.strictObject({ full: z.optional(z.boolean()), deep: z.optional(z.boolean()) }),
    retry: { attempts: 6, backoff: { baseMs: 5_000, factor: 2, capMs: 10 * MIN } },
    timeoutMs: 2 * HOUR,
    priority: 5,
    positional: ['full'],
    handler: syncTask,
  }),
  defineTask({
    name: 'soniquebay.process_artist_images',
    queue: 'covers',
    description: "artist images for SoniqueBay's artist ids (its id map), then mirrored",
    schema: z.strictObject({ artistIds: z.array(id).check(z.maxLength(100_000)) }),
    timeoutMs: 30 * MIN,
    positional: ['artistIds'],
    handler: artistImagesCall,
  }),
  defineTask({
    name: 'soniquebay.process_album_covers',
    queue: 'covers',
    description: "album covers for SoniqueBay's album ids (its id map), then mirrored",
    schema: z.strictObject({ albumIds: z.array(id).check(z.maxLength(100_000)) }),
    timeoutMs: 30 * MIN,
    positional: ['albumIds'],
    handler: albumCoversCall,
  }),
  defineTask({
    name: 'soniquebay.extract_embedded',
    queue: 'covers',
    description: 'embedded covers of the tracks with these file paths (or track ids), then mirrored',
    schema: z.strictObject({ items: z.array(z.union([z.string().check(z.minLength(1)), id])).check(z.maxLength(100_000)) }),
    timeoutMs: 30 * MIN,
    positional: ['items'],
    handler: embeddedCoversCall,
  }),
  defineTask({
    name: 'soniquebay.analyze_track',
    queue: 'metadata',
    description: 'queues the audio analysis of the track with this path (a Python batch stage asking)',
    schema: z.strictObject({ trackId: z.optional(id), filePath: z.string().check(z.minLength(1)), tags: z.optional(z.record(z.string(), z.unknown())) }),
    timeoutMs: 5 * MIN,
    positional: ['trackId', 'filePath', 'tags'],
    handler: analyzeTrackCall,
  }),
  defineTask({
    name: 'lastfm.fetch_artist_info',
    queue: 'deferred',
    description: "an artist's Last.fm URL, listeners, play count, tags and biography",
    schema: z.strictObject({ artistId: id }),
    retry: { attempts: 4, backoff: { baseMs: 60_000, factor: 2, capMs: HOUR } },
    timeoutMs: 5 * MIN,
    positional: ['artistId'],
    handler: fetchArtistInfo,
  }),
  defineTask({
    name: 'lastfm.fetch_similar_artists',
    queue: 'deferred',
    description: "an artist's similar artists on Last.fm, with their match as weight",
    schema: z.strictObject({ artistId: id, limit: z._default(z.int().check(z.gte(1), z.lte(250)), 10) }),
    retry: { attempts: 4, backoff: { baseMs: 60_000, factor: 2, capMs: HOUR } },
    timeoutMs: 5 * MIN,
    positional: ['artistId', 'limit'],
    handler: fetchSimilarArtists,
  }),
  defineTask({
    name: 'maintenance.purge_missing_tracks',
    queue: 'maintenance',
    description: 'deletes tracks whose file has been missing for longer than the grace period',
    schema: z.strictObject({ olderThanDays: z._default(z.int().check(z.gte(0), z.lte(3650)), MISSING_GRACE_DAYS) }),
    retry: NO_RETRY,
    timeoutMs: HOUR,
    priority: 10,
    positional: ['olderThanDays'],
    handler: purgeMissingTracks,
  }),
];

/** The registry every runtime uses; queue settings come from the config (defaults above). */
export function buildRegistry(queues: Record<QueueName, QueueSettings> = defaultQueueSettings()): TaskRegistry {
  return createRegistry(TASKS, queues, LEGACY_ALIASES);
}
