// The Celery queues (Redis lists) the bridge takes messages from by default: every queue the
// seed's Celery setup declares or consumes, plus our own queue names for clients that route
// by them. A Celery queue is only where a message waits: the task name picks our queue.
export const DEFAULT_CELERY_QUEUES = [
  'scan',
  'extract',
  'batch',
  'insert',
  'covers',
  'deferred',
  'deferred_vectors',
  'deferred_covers',
  'deferred_enrichment',
  'vectorization',
  'vectorization_monitoring',
  'vector',
  'metadata',
  'maintenance',
  'celery',
] as const;
