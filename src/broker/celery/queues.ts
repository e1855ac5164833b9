// The Celery queues (Redis lists) the bridge takes messages from by default: every queue the
// seed's Celery setup declares or consumes and every queue SoniqueBay's API sends to, plus our
// own queue names for clients that route by them. A Celery queue is only where a message waits:
// the task name picks our queue.
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
  // SoniqueBay's API sends gmm.* and synonym.* there, and its Python worker consumed the others
  // (contract §1.1): each message is answered, if only by a FAILURE saying what is not supported
  'gmm',
  'synonym',
  'mir',
  'audio_analysis',
  'failed',
  'metadata',
  'maintenance',
  'celery',
] as const;
