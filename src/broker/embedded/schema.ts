import type { SqliteConnection } from '../../db/sqlite.js';

// The embedded queue's own tables, in the library's SQLite file. Versioned with user_version-like
// bookkeeping in queue_meta so a later layout change can migrate them.
const SCHEMA_VERSION = 2;

const DDL = `
CREATE TABLE IF NOT EXISTS queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue_jobs (
  id INTEGER PRIMARY KEY,
  job_key TEXT UNIQUE,              -- caller-chosen id, when one was given
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting','delayed','active','completed','failed')),
  priority INTEGER NOT NULL DEFAULT 0,
  queued_at INTEGER NOT NULL,       -- order within a priority (FIFO); reset when a delayed job becomes due
  run_at INTEGER NOT NULL,          -- not before this time (delayed jobs, retry backoff)
  attempts_made INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  stalled_count INTEGER NOT NULL DEFAULT 0,
  locked_by TEXT,
  lock_until INTEGER,
  progress TEXT,
  result TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS queue_jobs_claim ON queue_jobs (queue, priority, queued_at, id) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS queue_jobs_delayed ON queue_jobs (run_at) WHERE state = 'delayed';
CREATE INDEX IF NOT EXISTS queue_jobs_active ON queue_jobs (locked_by) WHERE state = 'active';
-- A job's columns after its payload are read by walking the payload's overflow pages: a statement
-- that scans the table reads every payload (310 MB for a million-file scan's 26,000 jobs, 0.2-0.5 s
-- on the event loop), so the counts and the pruning read these indexes instead.
DROP INDEX IF EXISTS queue_jobs_finished;
CREATE INDEX IF NOT EXISTS queue_jobs_queue_state ON queue_jobs (queue, state);
CREATE INDEX IF NOT EXISTS queue_jobs_completed ON queue_jobs (queue, finished_at, id) WHERE state = 'completed';
CREATE INDEX IF NOT EXISTS queue_jobs_failed ON queue_jobs (finished_at) WHERE state = 'failed';
-- Payloads live beside the jobs, not in them: SQLite writes a whole row again for any change, and
-- a job's state changes three or four times (claimed, progress, completed): a scan batch's 175 KB
-- payload was written to the WAL four times over, 37 MB for a 10,000-file scan instead of 9.
-- queue_jobs.payload is left empty (a NOT NULL column cannot be dropped in place).
CREATE TABLE IF NOT EXISTS queue_payloads (job_id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS queue_jobs_payload_gone AFTER DELETE ON queue_jobs
  BEGIN DELETE FROM queue_payloads WHERE job_id = old.id; END;
CREATE TABLE IF NOT EXISTS queue_workers (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_rate_windows (
  queue TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  used INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_schedule_ticks (
  entry TEXT NOT NULL,
  tick_at INTEGER NOT NULL,
  PRIMARY KEY (entry, tick_at)
);
`;

export function ensureQueueSchema(conn: SqliteConnection): void {
  conn.exec('BEGIN IMMEDIATE');
  try {
    conn.exec(DDL);
    const row = conn.prepare("SELECT value FROM queue_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    if (row && Number(row.value) > SCHEMA_VERSION) {
      throw new Error(`the queue tables were written by a newer SoniqueBay (schema ${row.value} > ${SCHEMA_VERSION}); upgrade this worker`);
    }
    if (row && Number(row.value) < 2) {
      // version 1 kept each payload in its job's row
      conn.exec("INSERT OR IGNORE INTO queue_payloads (job_id, payload) SELECT id, payload FROM queue_jobs WHERE payload <> ''");
      conn.exec("UPDATE queue_jobs SET payload = '' WHERE payload <> ''");
    }
    conn.prepare("INSERT OR REPLACE INTO queue_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    conn.exec('COMMIT');
  } catch (err) {
    conn.exec('ROLLBACK');
    throw err;
  }
}
