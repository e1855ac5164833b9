// The embedded broker (the default): durable jobs in the library's SQLite file, consumed in process.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Db } from '../../db/types.js';
import type { Services } from '../../services/index.js';
import { openSqlite, type SqliteConnection } from '../../db/sqlite.js';
import type { Schedule } from '../../schedules.js';
import type { EnqueueOptions, JobRef, TaskRegistry } from '../../tasks/define.js';
import { JobIdError } from '../errors.js';
import {
  DEFAULT_RETENTION,
  emptyCounts,
  pollUntilFinished,
  splitJobId,
  type Broker,
  type JobEvent,
  type JobInfo,
  type JobState,
  type QueueCounts,
  type RetentionPolicy,
  type SchedulerHandle,
  type WorkerHandle,
  type WorkerOptions,
} from '../port.js';
import { planJob } from '../resolve.js';
import { parseJsonOrText } from '../../utils/json.js';
import { ensureQueueSchema } from './schema.js';
import { startEmbeddedScheduler } from './scheduler.js';
import { JobStore, retryBusy, type JobRow } from './store.js';
import { EmbeddedWorker } from './worker.js';

export interface EmbeddedBrokerOptions {
  /** the SQLite file (the library's own, in the default setup) */
  file: string;
  registry: TaskRegistry;
  db: Db;
  services: Services;
  logger: Logger;
  /** a running job's lock lasts this long without a heartbeat before another worker may take it */
  lockMs?: number;
  pollMs?: number;
  /** runs a job may lose to a dead worker before it is failed */
  maxStalled?: number;
  retention?: RetentionPolicy;
}

const PRUNE_EVERY_MS = 60_000;

export class EmbeddedBroker implements Broker {
  readonly kind = 'embedded';
  private readonly events = new EventEmitter();
  private readonly workers = new Set<EmbeddedWorker>();
  private pruneTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly conn: SqliteConnection,
    private readonly store: JobStore,
    private readonly options: EmbeddedBrokerOptions,
  ) {
    this.events.setMaxListeners(0);
  }

  static async open(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // Its own connection, never waiting synchronously: the library's transactions hold the write
    // lock across awaits in this same process, so the queue waits for it asynchronously instead.
    const conn = openSqlite(options.file, { busyTimeoutMs: 0 });
    await retryBusy(() => ensureQueueSchema(conn));
    return new EmbeddedBroker(conn, new JobStore(conn), options);
  }

  private get registry(): TaskRegistry {
    return this.options.registry;
  }

  async enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef> {
    const [ref] = await this.enqueueMany([{ name, payload, ...(options ? { options } : {}) }]);
    return ref!;
  }

  async enqueueMany(jobs: readonly { name: string; payload: unknown; options?: EnqueueOptions }[]): Promise<JobRef[]> {
    const planned = jobs.map((job) => planJob(this.registry, job.name, job.payload, job.options, this.options.logger));
    const now = Date.now();
    const rows = planned.map((job) => ({
      jobKey: job.jobId ?? null,
      queue: job.queue,
      name: job.name,
      payload: JSON.stringify(job.payload),
      priority: job.priority,
      runAt: now + job.delayMs,
      maxAttempts: job.attempts,
    }));
    const ids = await retryBusy(() => this.store.insertMany(rows, now));
    const refs = planned.map((job, i) => ({ id: `${job.queue}:${job.jobId ?? ids[i]!.id}`, name: job.name, queue: job.queue }));
    for (const row of rows) for (const worker of this.workers) worker.notify(row.queue, row.runAt);
    return refs;
  }

  async getJob(id: string): Promise<JobInfo | null> {
    const parts = splitJobId(id);
    if (!parts) throw new JobIdError(id);
    const row = await retryBusy(() => this.store.get(parts.local));
    return row && row.queue === parts.queue ? toInfo(row) : null;
  }

  async listJobs(query: { queue?: string; state: JobState; limit?: number }): Promise<JobInfo[]> {
    const rows = await retryBusy(() => this.store.list(query.queue, query.state, query.limit ?? 50));
    return rows.map(toInfo);
  }

  async pending(queue: string): Promise<number> {
    return retryBusy(() => this.store.pending(queue));
  }

  async counts(): Promise<QueueCounts> {
    const counts = emptyCounts(Object.keys(this.registry.queues));
    for (const { queue, state, n } of await retryBusy(() => this.store.counts())) {
      (counts[queue] ??= { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 })[state] = n;
    }
    return counts;
  }

  async retry(ids: readonly string[]): Promise<number> {
    const rowIds: number[] = [];
    for (const id of ids) {
      const parts = splitJobId(id);
      if (!parts) throw new JobIdError(id);
      const row = await retryBusy(() => this.store.get(parts.local));
      if (row && row.queue === parts.queue) rowIds.push(row.id);
    }
    return this.retryRows(rowIds);
  }

  async retryAllFailed(queue?: string): Promise<number> {
    return this.retryRows(await retryBusy(() => this.store.failedIds(queue)));
  }

  private async retryRows(ids: number[]): Promise<number> {
    const n = await retryBusy(() => this.store.retryFailed(ids, Date.now()));
    if (n > 0) for (const worker of this.workers) for (const q of worker.queues) worker.notify(q, 0);
    return n;
  }

  async waitForJob(id: string, timeoutMs: number): Promise<JobInfo | null> {
    return pollUntilFinished((jobId) => this.getJob(jobId), id, timeoutMs);
  }

  async startWorker(options: WorkerOptions = {}): Promise<WorkerHandle> {
    const queues = options.queues ?? Object.keys(this.registry.queues);
    const concurrency: Record<string, number> = {};
    for (const queue of queues) {
      const settings = this.registry.queues[queue];
      if (!settings) throw new Error(`unknown queue "${queue}" (known: ${Object.keys(this.registry.queues).join(', ')})`);
      concurrency[queue] = options.concurrency?.[queue] ?? settings.concurrency;
    }
    const worker = new EmbeddedWorker(
      {
        store: this.store,
        registry: this.registry,
        db: this.options.db,
        services: this.options.services,
        logger: this.options.logger,
        emit: (event) => this.events.emit('event', event),
        enqueue: (name, payload, opts) => this.enqueue(name, payload, opts),
        jobs: { counts: () => this.counts(), prune: () => this.prune() },
        lockMs: this.options.lockMs ?? 30_000,
        pollMs: this.options.pollMs ?? 250,
        maxStalled: this.options.maxStalled ?? 1,
        onClose: (w) => this.workers.delete(w),
      },
      queues,
      concurrency,
    );
    this.workers.add(worker);
    await worker.start();
    if (!this.pruneTimer) {
      this.pruneTimer = setInterval(() => void this.prune().catch((err) => this.options.logger.error({ err }, 'job pruning failed')), PRUNE_EVERY_MS);
      this.pruneTimer.unref();
    }
    return worker;
  }

  async startScheduler(schedules: readonly Schedule[]): Promise<SchedulerHandle> {
    return startEmbeddedScheduler(
      schedules,
      this.store,
      (schedule) => this.enqueue(schedule.task, schedule.payload),
      this.options.logger,
    );
  }

  async subscribe(listener: (event: JobEvent) => void): Promise<() => Promise<void>> {
    this.events.on('event', listener);
    return async () => {
      this.events.off('event', listener);
    };
  }

  async prune(): Promise<number> {
    return retryBusy(() => this.store.prune(this.options.retention ?? DEFAULT_RETENTION, Date.now()));
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    await Promise.all([...this.workers].map((worker) => worker.close()));
    this.conn.close();
  }
}

function parseJson(text: string | null): unknown {
  return text === null ? null : parseJsonOrText(text);
}

function toInfo(row: JobRow): JobInfo {
  return {
    id: `${row.queue}:${row.job_key ?? row.id}`,
    name: row.name,
    queue: row.queue,
    state: row.state,
    payload: parseJson(row.payload),
    priority: row.priority,
    attemptsMade: row.attempts_made,
    maxAttempts: row.max_attempts,
    progress: parseJson(row.progress) as JobInfo['progress'],
    result: parseJson(row.result),
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
