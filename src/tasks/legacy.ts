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

const insertionToItems = (p: Payload): Payload => {
  const data = (p.insertionData ?? p.insertion_data) as { tracks?: unknown } | undefined;
  return { ...pick(p, ['scanId', 'batchNo', 'items', 'errors']), ...(data?.tracks !== undefined ? { items: data.tracks } : {}) };
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
  { name: 'insert.direct_batch', target: 'batch.process_entities', positional: ['insertionData'], adapt: insertionToItems },
  { name: 'insert_batch_direct', target: 'batch.process_entities', positional: ['insertionData'], adapt: insertionToItems },
  { name: 'covers.extract_embedded', target: 'covers.extract_embedded_covers_batch', positional: ['trackIds'] },
  { name: 'extract_embedded_covers_batch', target: 'covers.extract_embedded_covers_batch', positional: ['trackIds'] },
  { name: 'covers.process_track_covers_batch', target: 'covers.extract_embedded_covers_batch', positional: ['trackIds'] },
  { name: 'covers.process_artist_images', target: 'covers.extract_artist_images_batch', positional: ['artistIds', 'priority'], adapt: (p) => pick(p, ['artistIds']) },
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
  { name: 'worker_deferred_enrichment.process_enrichment_batch', target: 'deferred.process_enrichment_batch', positional: ['limit'] },
  { name: 'worker_deferred_enrichment.retry_failed_enrichments', target: 'deferred.retry_failed', positional: ['limit'] },
];
