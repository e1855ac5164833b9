// SoniqueBay task families this worker does not do, answered at once with a FAILURE that says why
// (contract §1.2 sites 12–16, §1.3, §1.4) instead of UnknownTaskError, and never left PENDING.
import { PermanentTaskError } from '../errors.js';

export class NotSupportedError extends PermanentTaskError {
  constructor(
    readonly taskName: string,
    reason: string,
  ) {
    super(`${taskName} is not supported by the SoniqueBay worker: ${reason}`);
    this.name = 'NotSupportedError';
  }
}

const UNSUPPORTED: readonly { pattern: RegExp; why: string }[] = [
  {
    pattern: /^(gmm|artist_gmm)\./,
    why: "SoniqueBay's artist clusters are a GMM over 512-d artist embeddings (artists.vector); this worker computes 48-d audio vectors of tracks (similar tracks, playlists, transitions), another space that does not fit that column, so it neither clusters nor writes artists.vector (docs/soniquebay.md)",
  },
  {
    pattern: /^synonym\./,
    why: "tag synonyms come from SoniqueBay's own embedding/LLM service, which this worker does not run; it normalises genres with its own taxonomy instead",
  },
  {
    pattern: /^mir\./,
    why: "the track_mir_* tables are not written; this worker's own analysis fills track_audio_features (BPM, key, scale, Camelot key, danceability) through the SoniqueBay sink",
  },
  {
    pattern: /^audio_analysis\./,
    why: 'send the file paths to covers/scan instead: audio analysis runs by itself after every scan batch (metadata.analyze_audio_batch), and analyze_track_audio_features(track_id, file_path, tags) is accepted',
  },
  {
    pattern: /^backend_worker\.celery_tasks\./,
    why: "this is a retry of a task of the Python worker (celery_admin_api retry-task); those tasks do not exist here, and their arguments cannot be mapped: rescan the folder (scan.discovery) instead",
  },
  {
    pattern: /^backend_worker\.tasks\.maintenance_tasks\.(rebalance_queues_task|archive_old_logs_task|validate_system_integrity_task)$/,
    why: 'queue rebalancing, log archiving and integrity checks of the Python worker have no counterpart: this worker keeps its own queues, logs to stdout, and its database is the truth (maintenance.health_report reports on it)',
  },
  {
    pattern: /^manual_retrain_vectorizer$/,
    why: 'send trigger_vectorizer_retrain({"trigger_reason": …, "force": true}) instead (vectorization.train_model)',
  },
];

/** why a task name is not supported, or null when it is not one of those families */
export function unsupportedReason(name: string): string | null {
  return UNSUPPORTED.find((u) => u.pattern.test(name))?.why ?? null;
}
