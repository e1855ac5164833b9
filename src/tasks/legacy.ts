// Old task names still sent by existing producers (the Python API, Celery beat, the vector
// listener). Each maps to one task of src/tasks.ts; a payload whose shape differs is adapted here
// and nowhere else. `positional` names the old Celery positional arguments, in order.
import type { LegacyAlias } from './define.js';

type Payload = Record<string, unknown>;

/** Keeps only the listed keys that are present. */
function pick(payload: Payload, keys: readonly string[]): Payload {
  const out: Payload = {};
  for (const key of keys) if (payload[key] !== undefined) out[key] = payload[key];
  return out;
}

const scanFromLegacy = (p: Payload): Payload => ({ ...pick(p, ['root', 'scanId', 'full']), ...(p.directory !== undefined ? { root: p.directory } : {}) });

/** the file paths of metadata dicts (§4.3) a Python stage built: we read the files again ourselves */
const pathsOf = (items: unknown): unknown => (Array.isArray(items) ? items.map((m) => (typeof m === 'object' && m !== null && 'path' in m ? (m as { path: unknown }).path : m)) : items);

const insertionToPaths = (p: Payload): Payload => {
  const data = (p.insertionData ?? p.insertion_data) as { tracks?: unknown } | undefined;
  return { paths: pathsOf(data?.tracks) };
};

const oneTrackToBatch = (p: Payload): Payload => (p.trackId !== undefined ? { trackIds: [p.trackId] } : pick(p, ['trackIds']));

const retrainFromTrigger = (p: Payload): Payload => {
  const options = (p.options ?? {}) as { trigger_reason?: unknown; force?: unknown };
  const reason = p.reason ?? options.trigger_reason ?? 'legacy retrain trigger';
  const force = p.force ?? options.force;
  return force === undefined ? { reason } : { reason, force };
};

export const LEGACY_ALIASES: readonly LegacyAlias[] = [
  { name: 'scan_music_task', target: 'scan.discovery', positional: ['directory', 'progressCallback'], adapt: scanFromLegacy },
  { name: 'extract_metadata_batch', target: 'metadata.extract_batch', positional: ['paths', 'batchId'], adapt: (p) => pick(p, ['paths', 'scanId', 'batchNo']) },
  { name: 'batch_entities', target: 'batch.process_entities', positional: ['items', 'batchId'], adapt: (p) => pick(p, ['items', 'errors', 'scanId', 'batchNo']) },
  // a Python batch stage's insert message (mixed deployment): its tracks' files are read again here
  { name: 'insert.direct_batch', target: 'metadata.extract_batch', positional: ['insertionData'], adapt: insertionToPaths },
  { name: 'insert_batch_direct', target: 'metadata.extract_batch', positional: ['insertionData'], adapt: insertionToPaths },
  // SoniqueBay sends file paths here (contract §1.2 sites 6 and 9)
  { name: 'covers.extract_embedded', target: 'soniquebay.extract_embedded', positional: ['items'] },
  { name: 'extract_embedded_covers_batch', target: 'covers.extract_embedded_covers_batch', positional: ['trackIds'] },
  { name: 'covers.process_track_covers_batch', target: 'covers.extract_embedded_covers_batch', positional: ['trackIds'] },
  // SoniqueBay's artist ids; `priority` ("normal") is a task argument there, with no meaning here
  { name: 'covers.process_artist_images', target: 'soniquebay.process_artist_images', positional: ['artistIds', 'priority'], adapt: (p) => pick(p, ['artistIds']) },
  { name: 'covers.process_artist_images_batch', target: 'covers.extract_artist_images_batch', positional: ['artistIds'] },
  { name: 'extract_artist_images_batch', target: 'covers.extract_artist_images_batch', positional: ['artistIds'] },
  { name: 'analyze_audio_with_librosa', target: 'metadata.analyze_audio_batch', positional: ['trackId', 'filePath'], adapt: oneTrackToBatch },
  { name: 'analyze_audio_batch_task', target: 'metadata.analyze_audio_batch', positional: ['trackIds'] },
  { name: 'metadata.enrich_batch', target: 'metadata.enrich_tracks_batch', positional: ['trackIds'] },
  { name: 'vectorization.calculate', target: 'vectorization.calculate_vector', positional: ['trackId', 'metadata'], adapt: (p) => pick(p, ['trackId']) },
  { name: 'calculate_vector', target: 'vectorization.calculate_vector', positional: ['trackId', 'event'], adapt: (p) => pick(p, ['trackId']) },
  { name: 'monitor_tag_changes', target: 'vectorization.monitor_tag_changes', positional: [] },
  { name: 'trigger_vectorizer_retrain', target: 'vectorization.train_model', positional: ['options'], adapt: retrainFromTrigger },
  { name: 'check_model_health', target: 'vectorization.check_model_health', positional: [] },
  { name: 'worker_deferred_enrichment.process_enrichment_batch', target: 'deferred.process_enrichment_batch', positional: ['limit'], adapt: (p) => ({ limit: p.limit ?? p.batch_size }) },
  { name: 'worker_deferred_enrichment.retry_failed_enrichments', target: 'deferred.retry_failed', positional: ['limit'] },
  { name: 'backend_worker.tasks.audio_analysis_tasks.analyze_track_audio_features', target: 'soniquebay.analyze_track', positional: ['trackId', 'filePath', 'tags'] },
  {
    name: 'backend_worker.tasks.maintenance_tasks.cleanup_expired_tasks_task',
    target: 'deferred.cleanup_expired',
    positional: ['maxAgeSeconds'],
    adapt: (p) => (typeof p.maxAgeSeconds === 'number' ? { olderThanDays: Math.max(1, Math.ceil(p.maxAgeSeconds / 86_400)) } : {}),
  },
  { name: 'backend_worker.tasks.maintenance_tasks.generate_daily_health_report_task', target: 'maintenance.health_report', positional: [] },
];

/**
 * Celery names that are also names of our own tasks but mean something else when SoniqueBay's
 * Python side sends them (contract §1.2/§1.3): its album ids and a `priority` argument, a Python
 * extract stage's `batch_id`, a Python batch stage's metadata dicts. Only the Celery bridge reads
 * these; our own producers keep our tasks' meaning.
 */
export const CELERY_OVERRIDES: readonly LegacyAlias[] = [
  { name: 'covers.process_album_covers', target: 'soniquebay.process_album_covers', positional: ['albumIds', 'priority'], adapt: (p) => pick(p, ['albumIds']) },
  { name: 'metadata.extract_batch', target: 'metadata.extract_batch', positional: ['paths', 'batchId'], adapt: (p) => pick(p, ['paths']) },
  { name: 'batch.process_entities', target: 'metadata.extract_batch', positional: ['metadata'], adapt: (p) => ({ paths: pathsOf(p.metadata) }) },
];
