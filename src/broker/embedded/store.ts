// Every SQL statement of the embedded queue. All methods are synchronous and atomic (one
// statement or one IMMEDIATE transaction), so the queue never holds the write lock across an
// event-loop turn; callers go through `retryBusy` for the moments another connection holds it.
import type { Statement } from 'better-sqlite3';
import type { SqliteConnection } from '../../db/sqlite.js';
import type { RateLimit } from '../../tasks/define.js';
import type { JobState, RetentionPolicy } from '../port.js';

export interface JobRow {
  id: number;
  job_key: string | null;
  queue: string;
  name: string;
  payload: string;
  state: JobState;
  priority: number;
  queued_at: number;
  run_at: number;
  attempts_made: number;
  max_attempts: number;
  stalled_count: number;
  locked_by: string | null;
  lock_until: number | null;
  progress: string | null;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface NewJob {
  jobKey: string | null;
  queue: string;
  name: string;
  payload: string;
  priority: number;
  runAt: number;
  maxAttempts: number;
}

export interface ClaimResult {
  rows: JobRow[];
  /** set when the queue's rate window is full: nothing may start before this time */
  limitedUntil?: number;
}

export interface StalledJob {
  id: number;
  locked_by: string;
  lock_until: number;
  pid: number | null;
  host: string | null;
}

/** a job's columns with its payload, read from queue_jobs j joined to queue_payloads p */
const JOB = `j.id, j.job_key, j.queue, j.name, p.payload, j.state, j.priority, j.queued_at, j.run_at, j.attempts_made, j.max_attempts,
             j.stalled_count, j.locked_by, j.lock_until, j.progress, j.result, j.error, j.created_at, j.started_at, j.finished_at
             FROM queue_jobs j JOIN queue_payloads p ON p.job_id = j.id`;

export class JobStore {
  private readonly s: Record<string, Statement>;
  readonly insertMany: (jobs: readonly NewJob[], now: number) => { id: number; existed: boolean }[];
  readonly claim: (queue: string, max: number, workerId: string, now: number, lockMs: number, limit?: RateLimit) => ClaimResult;
  readonly retryFailed: (ids: readonly number[], now: number) => number;

  constructor(private readonly conn: SqliteConnection) {
    const p = (sql: string) => conn.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO queue_jobs (job_key, queue, name, payload, state, priority, queued_at, run_at, max_attempts, created_at)
                 VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?) ON CONFLICT (job_key) DO NOTHING RETURNING id`),
      insertPayload: p('INSERT INTO queue_payloads (job_id, payload) VALUES (?, ?)'),
      payload: p('SELECT payload FROM queue_payloads WHERE job_id = ?'),
      byKey: p('SELECT id FROM queue_jobs WHERE job_key = ?'),
      promote: p(`UPDATE queue_jobs SET state = 'waiting', queued_at = run_at WHERE state = 'delayed' AND run_at <= ?`),
      nextDelayed: p(`SELECT MIN(run_at) AS at FROM queue_jobs WHERE state = 'delayed'`),
      claim: p(`UPDATE queue_jobs SET state = 'active', locked_by = ?, lock_until = ?, started_at = ?
                WHERE id IN (SELECT id FROM queue_jobs WHERE state = 'waiting' AND queue = ?
                             ORDER BY priority, queued_at, id LIMIT ?)
                RETURNING id, job_key, queue, name, state, priority, queued_at, run_at, attempts_made, max_attempts, stalled_count,
                          locked_by, lock_until, progress, result, error, created_at, started_at, finished_at`),
      window: p('SELECT window_start, used FROM queue_rate_windows WHERE queue = ?'),
      setWindow: p(`INSERT INTO queue_rate_windows (queue, window_start, used) VALUES (?, ?, ?)
                    ON CONFLICT (queue) DO UPDATE SET window_start = excluded.window_start, used = excluded.used`),
      complete: p(`UPDATE queue_jobs SET state = 'completed', attempts_made = attempts_made + 1, result = ?, progress = COALESCE(?, progress),
                   finished_at = ?, locked_by = NULL, lock_until = NULL WHERE id = ? AND state = 'active' AND locked_by = ?`),
      fail: p(`UPDATE queue_jobs SET state = 'failed', attempts_made = attempts_made + 1, error = ?, progress = COALESCE(?, progress),
               finished_at = ?, locked_by = NULL, lock_until = NULL WHERE id = ? AND state = 'active' AND locked_by = ?`),
      retryLater: p(`UPDATE queue_jobs SET state = 'delayed', attempts_made = attempts_made + 1, error = ?, run_at = ?,
                     locked_by = NULL, lock_until = NULL WHERE id = ? AND state = 'active' AND locked_by = ?`),
      release: p(`UPDATE queue_jobs SET state = 'waiting', locked_by = NULL, lock_until = NULL, started_at = NULL
                  WHERE id = ? AND state = 'active' AND locked_by = ?`),
      progress: p('UPDATE queue_jobs SET progress = ? WHERE id = ?'),
      registerWorker: p('INSERT OR REPLACE INTO queue_workers (id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)'),
      unregisterWorker: p('DELETE FROM queue_workers WHERE id = ?'),
      beatWorker: p('UPDATE queue_workers SET heartbeat_at = ? WHERE id = ?'),
      beatJobs: p(`UPDATE queue_jobs SET lock_until = ? WHERE state = 'active' AND locked_by = ?`),
      stalledCandidates: p(`SELECT j.id, j.locked_by, j.lock_until, w.pid, w.host FROM queue_jobs j
                            LEFT JOIN queue_workers w ON w.id = j.locked_by
                            WHERE j.state = 'active' AND j.locked_by <> ?`),
      requeueStalled: p(`UPDATE queue_jobs SET state = 'waiting', stalled_count = stalled_count + 1, queued_at = ?,
                         locked_by = NULL, lock_until = NULL, started_at = NULL
                         WHERE id = ? AND state = 'active' AND locked_by = ? AND stalled_count < ?`),
      failStalled: p(`UPDATE queue_jobs SET state = 'failed', stalled_count = stalled_count + 1, finished_at = ?,
                      error = 'the job stalled too many times (its worker died or froze while running it)',
                      locked_by = NULL, lock_until = NULL WHERE id = ? AND state = 'active' AND locked_by = ?`),
      deadWorkers: p('SELECT id, pid, host, heartbeat_at FROM queue_workers WHERE id <> ?'),
      getById: p(`SELECT ${JOB} WHERE j.id = ?`),
      getByKey: p(`SELECT ${JOB} WHERE j.job_key = ?`),
      listQueue: p(`SELECT ${JOB} WHERE j.queue = ? AND j.state = ? ORDER BY j.id DESC LIMIT ?`),
      listAll: p(`SELECT ${JOB} WHERE j.state = ? ORDER BY j.id DESC LIMIT ?`),
      counts: p('SELECT queue, state, COUNT(*) AS n FROM queue_jobs GROUP BY queue, state'),
      // each part on its state's partial index: no walk over the finished jobs
      pending: p(`SELECT (SELECT COUNT(*) FROM queue_jobs WHERE state = 'waiting' AND queue = ?)
                        + (SELECT COUNT(*) FROM queue_jobs WHERE state = 'active' AND queue = ?) AS n`),
      retryOne: p(`UPDATE queue_jobs SET state = 'waiting', attempts_made = 0, stalled_count = 0, error = NULL, result = NULL,
                   queued_at = ?, run_at = ?, finished_at = NULL, started_at = NULL WHERE id = ? AND state = 'failed'`),
      failedIds: p(`SELECT id FROM queue_jobs WHERE state = 'failed' AND (? IS NULL OR queue = ?)`),
      // the states written out: a partial index serves only a query that names its state
      pruneCompletedAge: p(`DELETE FROM queue_jobs WHERE state = 'completed' AND queue = ? AND finished_at < ?`),
      pruneFailedAge: p(`DELETE FROM queue_jobs WHERE state = 'failed' AND finished_at < ?`),
      pruneCount: p(`DELETE FROM queue_jobs WHERE queue = ? AND state = 'completed' AND id NOT IN
                     (SELECT id FROM queue_jobs WHERE queue = ? AND state = 'completed' ORDER BY finished_at DESC, id DESC LIMIT ?)`),
      queuesWithCompleted: p(`SELECT DISTINCT queue FROM queue_jobs WHERE state = 'completed'`),
      tick: p('INSERT OR IGNORE INTO queue_schedule_ticks (entry, tick_at) VALUES (?, ?)'),
      pruneTicks: p('DELETE FROM queue_schedule_ticks WHERE tick_at < ?'),
    };

    this.insertMany = conn.transaction((jobs: readonly NewJob[], now: number) =>
      jobs.map((job) => {
        const state = job.runAt > now ? 'delayed' : 'waiting';
        const row = this.s.insert!.get(job.jobKey, job.queue, job.name, state, job.priority, now, job.runAt, job.maxAttempts, now) as
          | { id: number }
          | undefined;
        if (row) {
          this.s.insertPayload!.run(row.id, job.payload);
          return { id: row.id, existed: false };
        }
        return { id: (this.s.byKey!.get(job.jobKey) as { id: number }).id, existed: true };
      }),
    ).immediate;

    this.claim = conn.transaction((queue: string, max: number, workerId: string, now: number, lockMs: number, limit?: RateLimit): ClaimResult => {
      let allowed = max;
      let window: { window_start: number; used: number } | undefined;
      if (limit) {
        window = this.s.window!.get(queue) as typeof window;
        if (!window || window.window_start + limit.durationMs <= now) window = { window_start: now, used: 0 };
        allowed = Math.min(max, limit.max - window.used);
        if (allowed <= 0) return { rows: [], limitedUntil: window.window_start + limit.durationMs };
      }
      const rows = (this.s.claim!.all(workerId, now + lockMs, now, queue, allowed) as Omit<JobRow, 'payload'>[]).map(
        (row) => ({ ...row, payload: (this.s.payload!.get(row.id) as { payload: string }).payload }) as JobRow,
      );
      if (limit && window && rows.length > 0) {
        // the window opens with its first job, as BullMQ's limiter does
        const start = window.used === 0 ? now : window.window_start;
        this.s.setWindow!.run(queue, start, window.used + rows.length);
      }
      rows.sort((a, b) => a.priority - b.priority || a.queued_at - b.queued_at || a.id - b.id);
      return { rows };
    }).immediate;

    this.retryFailed = conn.transaction((ids: readonly number[], now: number) => {
      let n = 0;
      for (const id of ids) n += this.s.retryOne!.run(now, now, id).changes;
      return n;
    }).immediate;
  }

  promoteDue(now: number): number {
    return this.s.promote!.run(now).changes;
  }

  nextDelayedAt(): number | null {
    return (this.s.nextDelayed!.get() as { at: number | null }).at;
  }

  complete(id: number, workerId: string, result: string, progress: string | null, now: number): boolean {
    return this.s.complete!.run(result, progress, now, id, workerId).changes === 1;
  }

  fail(id: number, workerId: string, error: string, progress: string | null, now: number): boolean {
    return this.s.fail!.run(error, progress, now, id, workerId).changes === 1;
  }

  retryLater(id: number, workerId: string, error: string, runAt: number): boolean {
    return this.s.retryLater!.run(error, runAt, id, workerId).changes === 1;
  }

  release(id: number, workerId: string): boolean {
    return this.s.release!.run(id, workerId).changes === 1;
  }

  saveProgress(id: number, progress: string): void {
    this.s.progress!.run(progress, id);
  }

  registerWorker(id: string, pid: number, host: string, now: number): void {
    this.s.registerWorker!.run(id, pid, host, now, now);
  }

  unregisterWorker(id: string): void {
    this.s.unregisterWorker!.run(id);
  }

  heartbeat(workerId: string, now: number, lockMs: number): void {
    this.s.beatWorker!.run(now, workerId);
    this.s.beatJobs!.run(now + lockMs, workerId);
  }

  stalledCandidates(selfId: string): StalledJob[] {
    return this.s.stalledCandidates!.all(selfId) as StalledJob[];
  }

  /** back to waiting when it may stall once more, else failed; false when another worker got there first */
  recoverStalled(job: StalledJob, maxStalled: number, now: number): 'requeued' | 'failed' | 'gone' {
    if (this.s.requeueStalled!.run(now, job.id, job.locked_by, maxStalled).changes === 1) return 'requeued';
    if (this.s.failStalled!.run(now, job.id, job.locked_by).changes === 1) return 'failed';
    return 'gone';
  }

  otherWorkers(selfId: string): { id: string; pid: number; host: string; heartbeat_at: number }[] {
    return this.s.deadWorkers!.all(selfId) as { id: string; pid: number; host: string; heartbeat_at: number }[];
  }

  get(local: string): JobRow | undefined {
    return (/^\d+$/.test(local) ? this.s.getById!.get(Number(local)) : this.s.getByKey!.get(local)) as JobRow | undefined;
  }

  list(queue: string | undefined, state: JobState, limit: number): JobRow[] {
    return (queue ? this.s.listQueue!.all(queue, state, limit) : this.s.listAll!.all(state, limit)) as JobRow[];
  }

  counts(): { queue: string; state: JobState; n: number }[] {
    return this.s.counts!.all() as { queue: string; state: JobState; n: number }[];
  }

  pending(queue: string): number {
    return (this.s.pending!.get(queue, queue) as { n: number }).n;
  }

  failedIds(queue: string | undefined): number[] {
    return (this.s.failedIds!.all(queue ?? null, queue ?? null) as { id: number }[]).map((r) => r.id);
  }

  prune(policy: RetentionPolicy, now: number): number {
    let removed = this.s.pruneFailedAge!.run(now - policy.failedMaxAgeMs).changes;
    for (const { queue } of this.s.queuesWithCompleted!.all() as { queue: string }[]) {
      removed += this.s.pruneCompletedAge!.run(queue, now - policy.completedMaxAgeMs).changes;
      removed += this.s.pruneCount!.run(queue, queue, policy.completedMaxCount).changes;
    }
    this.s.pruneTicks!.run(now - 7 * 24 * 3_600_000);
    return removed;
  }

  /** true for the first caller of a (schedule entry, tick) pair, across processes */
  claimTick(entry: string, tickAt: number): boolean {
    return this.s.tick!.run(entry, tickAt).changes === 1;
  }
}

/** SQLITE_BUSY from another connection's write lock: wait a little, asynchronously, and try again. */
export async function retryBusy<T>(fn: () => T, maxWaitMs = 30_000): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!code.startsWith('SQLITE_BUSY') || Date.now() - started > maxWaitMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 1 << attempt)));
    }
  }
}
