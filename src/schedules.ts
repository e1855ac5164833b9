// Periodic tasks, all in one place (the seed's celery_beat_tasks). The defaults follow the task
// catalogue; the config file may change a cron pattern or switch an entry off.
import { sinkSettings } from './services/soniquebay/settings.js';

export interface Schedule {
  /** stable entry name: the key of one firing per tick */
  id: string;
  task: string;
  payload: Record<string, unknown>;
  /** 5-field cron (6 fields with seconds), evaluated in `timezone` */
  cron: string;
  timezone: string;
}

export interface ScheduleOverride {
  cron?: string;
  enabled?: boolean;
  /** merged over the default payload (e.g. purge-missing-tracks: { olderThanDays: 60 }) */
  payload?: Record<string, unknown>;
}

const DEFAULTS: readonly Omit<Schedule, 'timezone'>[] = [
  { id: 'process-deferred-enrichment', task: 'deferred.process_enrichment_batch', payload: { limit: 10 }, cron: '*/2 * * * *' },
  { id: 'process-deferred-covers', task: 'deferred.process_covers_batch', payload: { limit: 5 }, cron: '*/5 * * * *' },
  { id: 'process-deferred-vectors', task: 'deferred.process_vectors_batch', payload: { limit: 50 }, cron: '*/3 * * * *' },
  { id: 'render-images', task: 'deferred.render_images', payload: { limit: 200 }, cron: '*/10 * * * *' },
  { id: 'retry-failed', task: 'deferred.retry_failed', payload: { limit: 5 }, cron: '*/10 * * * *' },
  { id: 'monitor-tag-changes', task: 'vectorization.monitor_tag_changes', payload: {}, cron: '0 * * * *' },
  { id: 'check-model-health', task: 'vectorization.check_model_health', payload: {}, cron: '0 */6 * * *' },
  { id: 'cleanup-expired', task: 'deferred.cleanup_expired', payload: { olderThanDays: 7 }, cron: '0 2 * * *' },
  { id: 'health-report', task: 'maintenance.health_report', payload: {}, cron: '0 6 * * *' },
  { id: 'purge-missing-tracks', task: 'maintenance.purge_missing_tracks', payload: { olderThanDays: 30 }, cron: '30 3 * * *' },
];

/**
 * with SONIQUEBAY_SINK_URL: the sink's catch-up (covers, analysis, Last.fm details that came after
 * the batches; deleted tracks), and a daily deep pass comparing everything with what was written
 */
const SINK_SCHEDULES: readonly Omit<Schedule, 'timezone'>[] = [
  { id: 'soniquebay-sync', task: 'soniquebay.sync', payload: { full: true }, cron: '*/5 * * * *' },
  { id: 'soniquebay-deep-sync', task: 'soniquebay.sync', payload: { deep: true }, cron: '30 3 * * *' },
];

/** The effective schedule: defaults, overridden per entry, in the configured timezone. */
export function buildSchedules(overrides: Record<string, ScheduleOverride>, timezone: string): Schedule[] {
  const all = sinkSettings() ? [...DEFAULTS, ...SINK_SCHEDULES] : DEFAULTS;
  for (const id of Object.keys(overrides)) {
    if (!all.some((d) => d.id === id)) {
      throw new Error(`schedules.${id}: no such periodic task (known: ${all.map((d) => d.id).join(', ')})`);
    }
  }
  return all.filter((d) => overrides[d.id]?.enabled !== false).map((d) => ({
    ...d,
    cron: overrides[d.id]?.cron ?? d.cron,
    payload: { ...d.payload, ...overrides[d.id]?.payload },
    timezone,
  }));
}
