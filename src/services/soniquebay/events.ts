// SoniqueBay's live events (contract §2): a JSON object PUBLISHed on the Redis channel `progress`
// (per-stage progress of a scan, keyed by the Celery id of its scan.discovery call) or
// `notifications` ({type: "library_update"}, vectorization events). SoniqueBay's API relays both
// channels to its UI verbatim.
import type { ScanTable } from '../../db/types.js';

export type SoniqueBayEvent = { type: string } & Record<string, unknown>;

/** Publishes on a Redis of its own for one call, as SoniqueBay's publishers do; errors are the caller's to log. */
export async function publishOnce(url: string, channel: 'progress' | 'notifications', events: readonly SoniqueBayEvent[]): Promise<void> {
  if (events.length === 0) return;
  // loaded here: the task registry imports this file, and most commands never publish
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, enableOfflineQueue: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    for (const event of events) await redis.publish(channel, JSON.stringify(event));
  } finally {
    redis.disconnect();
  }
}

export const LIBRARY_UPDATE: SoniqueBayEvent = { type: 'library_update' };

type ScanCounts = Pick<ScanTable, 'status' | 'walk_done' | 'discovered' | 'unchanged' | 'queued' | 'extracted' | 'inserted' | 'updated' | 'removed' | 'failed' | 'started_at' | 'finished_at' | 'last_error'>;

/**
 * The `progress` event of a scan as SoniqueBay's UI reads it: `task_id` is the Celery id it got
 * from `POST /api/scan`, and it takes `percent == 100` or `current >= total` as the end, so both
 * stay below the end until the whole scan is written (`final`). A scan that found no file ends
 * with percent 100 and no counts (never `current: 0, total: 0`). A failed scan sends the error
 * shape upstream's stages used (no counts).
 */
export function scanProgressEvent(taskId: string, scan: ScanCounts, final: boolean, floorPercent = 0): SoniqueBayEvent {
  if (scan.status === 'failed' || scan.status === 'cancelled') {
    const error = scan.status === 'cancelled' ? 'scan annulé' : scan.last_error ?? 'scan failed';
    return { type: 'progress', task_id: taskId, step: `Erreur de scan: ${error}`, error, duration: Math.round(((scan.finished_at ?? Date.now()) - scan.started_at) / 1000) };
  }
  const done = scan.unchanged + scan.extracted + scan.failed;
  if (final) {
    const counts = { files_discovered: scan.discovered, tracks_inserted: scan.inserted, tracks_updated: scan.updated, tracks_removed: scan.removed, files_failed: scan.failed };
    const step = `Scan terminé - ${scan.discovered} fichiers`;
    return scan.discovered > 0 ? { type: 'progress', task_id: taskId, step, current: scan.discovered, total: scan.discovered, percent: 100, ...counts } : { type: 'progress', task_id: taskId, step, percent: 100, ...counts };
  }
  // while the walk runs, the total is not known: what is queued so far, plus one
  const total = scan.walk_done ? Math.max(scan.discovered, done + 1) : scan.queued + scan.unchanged + 1;
  const current = Math.min(scan.walk_done ? done : scan.extracted + scan.failed, total - 1);
  const percent = Math.max(floorPercent, Math.min(99, Math.floor((current / total) * 100)));
  const step = scan.walk_done ? `Extraction ${current}/${total} fichiers` : `Découverte: ${scan.queued} fichiers à lire`;
  return { type: 'progress', task_id: taskId, step, current, total, percent };
}
