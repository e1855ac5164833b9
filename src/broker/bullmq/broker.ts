// The distributed broker: BullMQ queues on Redis. Job name = task name, queue = the routing
// table's; retries, backoff, priority, delay, rate limit and stalled-job recovery are BullMQ's,
// the timeout and payload validation are the shared executor's.
import { Redis, type RedisOptions } from 'ioredis';
import { Job, Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type JobsOptions, type JobType } from 'bullmq';
import type { Logger } from 'pino';
import type { Db } from '../../db/types.js';
import type { Services } from '../../services/index.js';
import type { Schedule } from '../../schedules.js';
import type { EnqueueOptions, JobRef, ProgressValue, TaskRegistry } from '../../tasks/define.js';
import { backoffDelay } from '../backoff.js';
import { JobIdError, errorMessage, isPermanent } from '../errors.js';
import { executeJob, runFailureHook, shutdownController } from '../execute.js';
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
import { planJob, type PlannedJob } from '../resolve.js';

export interface BullmqBrokerOptions {
  url: string;
  /** Redis key prefix; tests use their own */
  prefix?: string;
  registry: TaskRegistry;
  db: Db;
  services: Services;
  logger: Logger;
  /** a running job's lock lasts this long without renewal before it counts as stalled */
  lockMs?: number;
  /** how often workers look for stalled jobs (default lockMs / 2) */
  stalledIntervalMs?: number;
  maxStalled?: number;
  retention?: RetentionPolicy;
}

const BACKOFF_TYPE = 'soniquebay';
const PROGRESS_SAVE_MS = 250;
const STATE_TYPES: Record<JobState, JobType[]> = {
  waiting: ['waiting', 'prioritized'],
  delayed: ['delayed'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
};

/**
 * The broker's shared connection, auto-pipelined: the commands of one event-loop turn (many jobs
 * finishing, adding, being read) go out in one write. BullMQ duplicates this connection for its
 * blocking commands (a Worker's wait for jobs): duplicates are plain connections, as a blocking
 * command must not sit in a pipeline in front of others.
 */
class PipelinedRedis extends Redis {
  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new Redis({ ...this.options, ...override, enableAutoPipelining: false });
  }
}

class ShutdownError extends Error {
  constructor() {
    super('worker shutting down: job returned to its queue');
  }
}

export class BullmqBroker implements Broker {
  readonly kind = 'bullmq';
  private readonly connection: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Set<BullmqWorkerGroup>();
  private readonly prefix: string;

  constructor(private readonly options: BullmqBrokerOptions) {
    this.prefix = options.prefix ?? 'soniquebay';
    this.connection = new PipelinedRedis(options.url, { maxRetriesPerRequest: null, lazyConnect: false, enableAutoPipelining: true });
    this.connection.on('error', (err) => options.logger.error({ err: err.message }, 'redis connection error'));
  }

  private get registry(): TaskRegistry {
    return this.options.registry;
  }

  private get retention(): RetentionPolicy {
    return this.options.retention ?? DEFAULT_RETENTION;
  }

  /** the BullMQ queue behind one of our queues (for Bull Board) */
  bullQueue(name: string): Queue {
    return this.queue(name);
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      if (!(name in this.registry.queues)) throw new Error(`unknown queue "${name}"`);
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      // while Redis restarts, commands fail and are retried by the caller; an unheard 'error' would end the process
      queue.on('error', (err) => this.options.logger.warn({ err: err.message, queue: name }, 'redis queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  jobOptions(job: Pick<PlannedJob, 'priority' | 'delayMs' | 'attempts' | 'jobId'>): JobsOptions {
    return {
      // priority 0 stays in BullMQ's wait list, which is served before any prioritized job
      ...(job.priority > 0 ? { priority: job.priority } : {}),
      ...(job.delayMs > 0 ? { delay: job.delayMs } : {}),
      ...(job.jobId !== undefined ? { jobId: job.jobId } : {}),
      attempts: job.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: { age: Math.ceil(this.retention.completedMaxAgeMs / 1000), count: this.retention.completedMaxCount },
      removeOnFail: { age: Math.ceil(this.retention.failedMaxAgeMs / 1000) },
    };
  }

  async enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef> {
    const job = planJob(this.registry, name, payload, options, this.options.logger);
    const added = await this.queue(job.queue).add(job.name, job.payload, this.jobOptions(job));
    return { id: `${job.queue}:${added.id}`, name: job.name, queue: job.queue };
  }

  async enqueueMany(jobs: readonly { name: string; payload: unknown; options?: EnqueueOptions }[]): Promise<JobRef[]> {
    const planned = jobs.map((job) => planJob(this.registry, job.name, job.payload, job.options, this.options.logger));
    const byQueue = new Map<string, number[]>();
    planned.forEach((job, i) => {
      const indexes = byQueue.get(job.queue);
      if (indexes) indexes.push(i);
      else byQueue.set(job.queue, [i]);
    });
    const refs: JobRef[] = new Array(planned.length);
    await Promise.all(
      [...byQueue].map(async ([queueName, indexes]) => {
        const added = await this.queue(queueName).addBulk(
          indexes.map((i) => ({ name: planned[i]!.name, data: planned[i]!.payload, opts: this.jobOptions(planned[i]!) })),
        );
        added.forEach((job, k) => {
          const i = indexes[k]!;
          refs[i] = { id: `${queueName}:${job.id}`, name: planned[i]!.name, queue: queueName };
        });
      }),
    );
    return refs;
  }

  private async findJob(id: string): Promise<{ job: Job; queue: string } | null> {
    const parts = splitJobId(id);
    if (!parts) throw new JobIdError(id);
    if (!(parts.queue in this.registry.queues)) return null;
    const job = await this.queue(parts.queue).getJob(parts.local);
    return job ? { job, queue: parts.queue } : null;
  }

  async getJob(id: string): Promise<JobInfo | null> {
    const parts = splitJobId(id);
    if (!parts) throw new JobIdError(id);
    if (!(parts.queue in this.registry.queues)) return null;
    const queue = this.queue(parts.queue);
    // state first: a job read before it finished would carry no result under a finished state
    const state = toState(await queue.getJobState(parts.local));
    const job = state ? await queue.getJob(parts.local) : undefined;
    return state && job ? toInfo(job, parts.queue, state) : null;
  }

  async listJobs(query: { queue?: string; state: JobState; limit?: number }): Promise<JobInfo[]> {
    const limit = query.limit ?? 50;
    const names = query.queue ? [query.queue] : Object.keys(this.registry.queues);
    const lists = await Promise.all(
      names.map(async (name) => (await this.queue(name).getJobs(STATE_TYPES[query.state], 0, limit - 1, false)).map((job) => toInfo(job, name, query.state))),
    );
    return lists
      .flat()
      .sort((a, b) => (b.finishedAt ?? b.createdAt) - (a.finishedAt ?? a.createdAt))
      .slice(0, limit);
  }

  async pending(queue: string): Promise<number> {
    const c = await this.queue(queue).getJobCounts('waiting', 'prioritized', 'active');
    return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0);
  }

  async counts(): Promise<QueueCounts> {
    const names = Object.keys(this.registry.queues);
    const counts = emptyCounts(names);
    await Promise.all(
      names.map(async (name) => {
        const c = await this.queue(name).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
        counts[name] = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          delayed: c.delayed ?? 0,
          active: c.active ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        };
      }),
    );
    return counts;
  }

  async retry(ids: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of ids) {
      const found = await this.findJob(id);
      if (found && (await found.job.getState()) === 'failed') {
        await found.job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        n++;
      }
    }
    return n;
  }

  async retryAllFailed(queue?: string): Promise<number> {
    const names = queue ? [queue] : Object.keys(this.registry.queues);
    let n = 0;
    for (const name of names) {
      for (;;) {
        const failed = await this.queue(name).getJobs(['failed'], 0, 999);
        if (failed.length === 0) break;
        for (const job of failed) await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        n += failed.length;
      }
    }
    return n;
  }

  async waitForJob(id: string, timeoutMs: number): Promise<JobInfo | null> {
    return pollUntilFinished((jobId) => this.getJob(jobId), id, timeoutMs);
  }

  async startWorker(options: WorkerOptions = {}): Promise<WorkerHandle> {
    const names = options.queues ?? Object.keys(this.registry.queues);
    for (const name of names) {
      if (!(name in this.registry.queues)) throw new Error(`unknown queue "${name}" (known: ${Object.keys(this.registry.queues).join(', ')})`);
    }
    const concurrency = Object.fromEntries(names.map((name) => [name, options.concurrency?.[name] ?? this.registry.queues[name]!.concurrency]));
    const group = new BullmqWorkerGroup(this, names, concurrency);
    this.workers.add(group);
    await group.start();
    return group;
  }

  /** used by the worker group: one BullMQ Worker per queue, sharing this broker's settings */
  createWorker(queueName: string, concurrency: number, shutdown: AbortSignal, groupQueues: readonly string[]): Worker {
    const { registry, logger, db, services } = this.options;
    const lockMs = this.options.lockMs ?? 30_000;
    const limit = registry.queues[queueName]?.rateLimit;
    const worker = new Worker(
      queueName,
      async (job, token) => {
        const ref: JobRef = { id: `${queueName}:${job.id}`, name: job.name, queue: queueName };
        let lastSaved = 0;
        let unsaved: ProgressValue | undefined;
        const progress = async (value: ProgressValue) => {
          const now = Date.now();
          if (now - lastSaved < PROGRESS_SAVE_MS) {
            unsaved = value;
            return;
          }
          lastSaved = now;
          unsaved = undefined;
          await job.updateProgress(value);
        };
        try {
          const result = await executeJob(
            { id: ref.id, name: job.name, payload: job.data, attempt: job.attemptsMade + 1 },
            { registry, db, services, logger, progress, shutdown, queues: groupQueues, enqueue: (name, payload, opts) => this.enqueue(name, payload, opts), jobs: { counts: () => this.counts(), prune: () => this.prune() } },
          );
          if (unsaved !== undefined) await job.updateProgress(unsaved);
          return result;
        } catch (err) {
          if (shutdown.aborted && err instanceof ShutdownError) {
            await job.moveToWait(token);
            throw new WaitingError();
          }
          const final = isPermanent(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          if (final) {
            await runFailureHook({ id: ref.id, name: job.name, payload: job.data, attempt: job.attemptsMade + 1 }, errorMessage(err), {
              registry,
              db,
              services,
              logger,
              enqueue: (name, payload, opts) => this.enqueue(name, payload, opts),
            });
          }
          if (isPermanent(err)) throw new UnrecoverableError(errorMessage(err));
          throw err;
        }
      },
      {
        connection: this.connection,
        prefix: this.prefix,
        concurrency,
        lockDuration: lockMs,
        stalledInterval: this.options.stalledIntervalMs ?? Math.max(500, Math.floor(lockMs / 2)),
        maxStalledCount: this.options.maxStalled ?? 1,
        ...(limit ? { limiter: { max: limit.max, duration: limit.durationMs } } : {}),
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: { name: string }) => {
            const def = job ? (registry.tasks.get(job.name) ?? registry.tasks.get(registry.aliases.get(job.name)?.target ?? '')) : undefined;
            return def ? backoffDelay(def.retry.backoff, attemptsMade) : 0;
          },
        },
      },
    );
    worker.on('error', (err) => logger.error({ err: err.message, queue: queueName }, 'bullmq worker error'));
    worker.on('failed', (job, err) => {
      if (job && !(err instanceof WaitingError)) logger.warn({ jobId: `${queueName}:${job.id}`, task: job.name, err: err.message }, 'job failed');
    });
    return worker;
  }

  forgetWorker(group: BullmqWorkerGroup): void {
    this.workers.delete(group);
  }

  newShutdownError(): Error {
    return new ShutdownError();
  }

  async startScheduler(schedules: readonly Schedule[]): Promise<SchedulerHandle> {
    // Job schedulers live in Redis: upserting is idempotent, and BullMQ creates one job per tick
    // however many processes do it. Entries no longer configured are removed.
    const wanted = new Map<string, Schedule[]>();
    for (const schedule of schedules) {
      const planned = planJob(this.registry, schedule.task, schedule.payload, {}, this.options.logger);
      wanted.set(planned.queue, [...(wanted.get(planned.queue) ?? []), schedule]);
      await this.queue(planned.queue).upsertJobScheduler(
        schedule.id,
        { pattern: schedule.cron, tz: schedule.timezone },
        { name: planned.name, data: planned.payload, opts: this.jobOptions({ ...planned, delayMs: 0, jobId: undefined }) },
      );
    }
    for (const name of Object.keys(this.registry.queues)) {
      const keep = new Set((wanted.get(name) ?? []).map((s) => s.id));
      for (const scheduler of await this.queue(name).getJobSchedulers()) {
        if (scheduler.key && !keep.has(scheduler.key)) await this.queue(name).removeJobScheduler(scheduler.key);
      }
    }
    return { close: async () => undefined };
  }

  async subscribe(listener: (event: JobEvent) => void): Promise<() => Promise<void>> {
    const all = await Promise.all(
      Object.keys(this.registry.queues).map(async (name) => {
        const connection = new Redis(this.options.url, { maxRetriesPerRequest: null });
        const events = new QueueEvents(name, { connection, prefix: this.prefix });
        connection.on('error', (err) => this.options.logger.warn({ err: err.message, queue: name }, 'redis events connection error'));
        events.on('error', (err) => this.options.logger.warn({ err: err.message, queue: name }, 'redis events error'));
        const known = new KnownJobs();
        // Events reach the listener in stream order: one that must first read its job holds back
        // the ones after it (the reads themselves run at once).
        let reading = 0;
        let queued: Promise<void> = Promise.resolve();
        const forward = (make: () => Promise<JobEvent | null>) => {
          reading++;
          const made = make();
          queued = queued
            .then(() => made)
            .then((event) => {
              if (event) listener(event);
            })
            .catch((err) => this.options.logger.warn({ err: errorMessage(err) }, 'could not read a job event'))
            .finally(() => reading--);
        };
        const now = (event: JobEvent) => (reading === 0 ? listener(event) : forward(async () => event));
        const named = (jobId: string, jobName: string): JobRef => ({ id: `${name}:${jobId}`, name: jobName, queue: name });
        const refOf = async (jobId: string): Promise<{ ref: JobRef; job: Job | undefined }> => {
          const job = await this.queue(name).getJob(jobId);
          return { ref: named(jobId, job?.name ?? ''), job };
        };
        events.on('added', ({ jobId, name: jobName }) => known.added(jobId, jobName));
        events.on('active', ({ jobId }) => {
          const jobName = known.firstActivation(jobId);
          if (jobName !== undefined) return now({ type: 'active', job: named(jobId, jobName), attempt: 1 });
          forward(async () => {
            const { ref, job } = await refOf(jobId);
            return { type: 'active', job: ref, attempt: (job?.attemptsMade ?? 0) + 1 };
          });
        });
        events.on('progress', ({ jobId, data }) => {
          const progress = data as ProgressValue;
          const scanId = (progress as { scanId?: unknown }).scanId;
          const event = (job: JobRef): JobEvent => ({ type: 'progress', job, progress, ...(typeof scanId === 'string' ? { scanId } : {}) });
          const jobName = known.name(jobId);
          if (jobName !== undefined) now(event(named(jobId, jobName)));
          else forward(async () => event((await refOf(jobId)).ref));
        });
        events.on('completed', ({ jobId, returnvalue }) => {
          const jobName = known.finished(jobId);
          if (jobName !== undefined) now({ type: 'completed', job: named(jobId, jobName), result: returnvalue });
          else forward(async () => ({ type: 'completed', job: (await refOf(jobId)).ref, result: returnvalue }));
        });
        events.on('failed', ({ jobId, failedReason }) => {
          known.finished(jobId);
          forward(async () => {
            if (failedReason === new WaitingError().message) return null;
            const { ref, job } = await refOf(jobId);
            const willRetry = job ? (await job.getState()) !== 'failed' : false;
            return { type: 'failed', job: ref, error: failedReason, willRetry };
          });
        });
        events.on('removed', ({ jobId }) => known.finished(jobId));
        await events.waitUntilReady();
        return { events, connection };
      }),
    );
    return async () => {
      await Promise.all(all.map(({ events }) => events.close()));
      for (const { connection } of all) connection.disconnect();
    };
  }

  async prune(): Promise<number> {
    let removed = 0;
    for (const name of Object.keys(this.registry.queues)) {
      removed += (await this.queue(name).clean(this.retention.completedMaxAgeMs, 0, 'completed')).length;
      removed += (await this.queue(name).clean(this.retention.failedMaxAgeMs, 0, 'failed')).length;
    }
    return removed;
  }

  /** removes every key of this broker's prefix: for tests and benchmarks only */
  async obliterate(): Promise<void> {
    for (const name of Object.keys(this.registry.queues)) await this.queue(name).obliterate({ force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((group) => group.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}

/** The queues one `startWorker` call consumes, closed together. */
class BullmqWorkerGroup implements WorkerHandle {
  private readonly workers: Worker[] = [];
  private readonly shutdown = shutdownController();
  private closed = false;

  constructor(
    private readonly broker: BullmqBroker,
    readonly queues: readonly string[],
    private readonly concurrency: Record<string, number>,
  ) {}

  async start(): Promise<void> {
    for (const name of this.queues) {
      this.workers.push(this.broker.createWorker(name, this.concurrency[name]!, this.shutdown.signal, this.queues));
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    const grace = new Promise<'grace'>((resolve) => setTimeout(() => resolve('grace'), graceMs).unref());
    if ((await Promise.race([closing, grace])) === 'grace') {
      // running jobs had their chance: abort them, they go back to their queue
      this.shutdown.abort(this.broker.newShutdownError());
      await closing;
    }
    this.broker.forgetWorker(this);
  }
}

/**
 * Jobs added while a subscriber listens, by id: the events stream's 'added' carries the job's
 * name, so the events of the job's first run need no read of the job (a new job's first run is
 * attempt 1). A job not here (added before, or run again after a failure, a stall or a shutdown)
 * is read from Redis as before.
 */
class KnownJobs {
  private static readonly MAX = 10_000;
  private readonly jobs = new Map<string, { name: string; started: boolean }>();

  added(jobId: string, name: string): void {
    this.jobs.delete(jobId);
    this.jobs.set(jobId, { name, started: false });
    // oldest first: a long backlog of waiting jobs is read when it runs, as before
    if (this.jobs.size > KnownJobs.MAX) this.jobs.delete(this.jobs.keys().next().value!);
  }

  /** the job's name if this is its first activation since it was added */
  firstActivation(jobId: string): string | undefined {
    const job = this.jobs.get(jobId);
    if (!job || job.started) return undefined;
    job.started = true;
    return job.name;
  }

  name(jobId: string): string | undefined {
    return this.jobs.get(jobId)?.name;
  }

  finished(jobId: string): string | undefined {
    const name = this.name(jobId);
    this.jobs.delete(jobId);
    return name;
  }
}

function toState(state: string): JobState | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'paused':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      return null;
  }
}

function toInfo(job: Job, queue: string, state: JobState): JobInfo {
  const progress = job.progress as ProgressValue | undefined;
  return {
    id: `${queue}:${job.id}`,
    name: job.name,
    queue,
    state,
    payload: job.data,
    priority: job.opts.priority ?? 0,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    progress: progress === undefined || progress === 0 ? null : progress,
    result: job.returnvalue ?? null,
    error: job.failedReason || null,
    createdAt: job.timestamp,
    startedAt: job.processedOn ?? null,
    finishedAt: job.finishedOn ?? null,
  };
}
