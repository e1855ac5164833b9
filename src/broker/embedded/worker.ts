// The embedded worker: claims due jobs of its queues from SQLite, runs them through the shared
// executor, records the outcome. Also heartbeats its locks and puts back jobs of dead workers.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../../db/types.js';
import type { Services } from '../../services/index.js';
import type { EnqueueOptions, JobRef, JobsAccess, ProgressValue, TaskRegistry } from '../../tasks/define.js';
import { backoffDelay } from '../backoff.js';
import { errorMessage, isPermanent } from '../errors.js';
import { executeJob, runFailureHook, shutdownController } from '../execute.js';
import type { JobEvent, WorkerHandle } from '../port.js';
import { parseJsonOrText } from '../../utils/json.js';
import { retryBusy, type JobRow, type JobStore } from './store.js';
import { processAlive } from '../../utils/process.js';

export interface EmbeddedWorkerDeps {
  store: JobStore;
  registry: TaskRegistry;
  db: Db;
  services: Services;
  logger: Logger;
  emit(event: JobEvent): void;
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef>;
  jobs: JobsAccess;
  lockMs: number;
  /** how often an idle worker looks for jobs enqueued by other processes */
  pollMs: number;
  maxStalled: number;
  onClose(worker: EmbeddedWorker): void;
}

const PROGRESS_SAVE_MS = 250;

export class ShutdownError extends Error {
  constructor() {
    super('worker shutting down: job returned to its queue');
    this.name = 'ShutdownError';
  }
}

export class EmbeddedWorker implements WorkerHandle {
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly active = new Map<string, number>();
  private readonly running = new Map<number, Promise<void>>();
  /** queues that may have due work: claimed only when set, to keep idle ticks cheap */
  private readonly dirty = new Set<string>();
  private readonly shutdown = shutdownController();
  private nextDueAt = 0;
  private limitedUntil = new Map<string, number>();
  private tickScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervals: NodeJS.Timeout[] = [];
  private closing = false;

  constructor(
    private readonly deps: EmbeddedWorkerDeps,
    readonly queues: readonly string[],
    private readonly concurrency: Record<string, number>,
  ) {}

  async start(): Promise<void> {
    const { store, lockMs } = this.deps;
    await retryBusy(() => store.registerWorker(this.id, process.pid, os.hostname(), Date.now()));
    await this.recoverStalled();
    this.intervals.push(setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(lockMs / 3))));
    this.intervals.push(setInterval(() => void this.recoverStalled(), Math.max(200, Math.floor(lockMs / 2))));
    for (const interval of this.intervals) interval.unref();
    for (const q of this.queues) this.dirty.add(q);
    this.nextDueAt = 0;
    this.wake();
  }

  /** a job was enqueued in this process: look now (or when it becomes due) */
  notify(queue: string, runAt: number): void {
    if (!this.queues.includes(queue)) return;
    if (runAt > Date.now()) {
      this.nextDueAt = this.nextDueAt === 0 ? runAt : Math.min(this.nextDueAt, runAt);
    } else {
      this.dirty.add(queue);
    }
    this.wake();
  }

  private wake(): void {
    if (this.tickScheduled || this.closing) return;
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.tick().catch((err) => this.deps.logger.error({ err }, 'embedded worker tick failed'));
    });
  }

  private async tick(): Promise<void> {
    if (this.closing) return;
    const { store, lockMs } = this.deps;
    const now = Date.now();
    if (this.nextDueAt !== 0 && this.nextDueAt <= now) {
      const promoted = await retryBusy(() => store.promoteDue(now));
      if (promoted > 0) for (const q of this.queues) this.dirty.add(q);
      this.nextDueAt = (await retryBusy(() => store.nextDelayedAt())) ?? 0;
    }
    for (const queue of this.queues) {
      if (!this.dirty.has(queue) || this.closing) continue;
      const free = (this.concurrency[queue] ?? 1) - (this.active.get(queue) ?? 0);
      if (free <= 0) continue;
      if ((this.limitedUntil.get(queue) ?? 0) > now) continue;
      const limit = this.deps.registry.queues[queue]?.rateLimit;
      const claimed = await retryBusy(() => store.claim(queue, free, this.id, now, lockMs, limit));
      if (claimed.limitedUntil !== undefined) this.limitedUntil.set(queue, claimed.limitedUntil);
      if (claimed.rows.length < free) this.dirty.delete(queue);
      for (const row of claimed.rows) this.run(row);
    }
    this.armTimer();
  }

  /** sleeps until the next delayed job, the end of a rate window, or the poll interval (this timer keeps a worker process alive) */
  private armTimer(): void {
    clearTimeout(this.timer);
    if (this.closing) return;
    const now = Date.now();
    let at = now + this.deps.pollMs;
    if (this.nextDueAt !== 0) at = Math.min(at, this.nextDueAt);
    for (const [queue, until] of this.limitedUntil) {
      if (until > now) at = Math.min(at, until);
      else this.limitedUntil.delete(queue);
    }
    this.timer = setTimeout(() => {
      // due jobs, other processes' enqueues and delayed jobs: look at everything again
      for (const q of this.queues) this.dirty.add(q);
      this.nextDueAt = Date.now();
      this.wake();
    }, Math.max(0, at - now));
  }

  private run(row: JobRow): void {
    const { store, registry, logger } = this.deps;
    const ref: JobRef = { id: `${row.queue}:${row.job_key ?? row.id}`, name: row.name, queue: row.queue };
    this.active.set(row.queue, (this.active.get(row.queue) ?? 0) + 1);
    const attempt = row.attempts_made + 1;
    this.deps.emit({ type: 'active', job: ref, attempt });

    let pendingProgress: string | null = null;
    let lastSaved = 0;
    const progress = async (value: ProgressValue): Promise<void> => {
      const scanId = (value as { scanId?: unknown }).scanId;
      this.deps.emit({ type: 'progress', job: ref, progress: value, ...(typeof scanId === 'string' ? { scanId } : {}) });
      pendingProgress = JSON.stringify(value);
      const now = Date.now();
      if (now - lastSaved >= PROGRESS_SAVE_MS) {
        lastSaved = now;
        const text = pendingProgress;
        pendingProgress = null;
        await retryBusy(() => store.saveProgress(row.id, text));
      }
    };

    const payload = parseJsonOrText(row.payload);

    const done = executeJob(
      { id: ref.id, name: row.name, payload, attempt },
      { registry, db: this.deps.db, services: this.deps.services, logger, enqueue: this.deps.enqueue, jobs: this.deps.jobs, progress, shutdown: this.shutdown.signal, queues: this.queues },
    )
      .then(
        (result) => this.finish(row, ref, () => store.complete(row.id, this.id, JSON.stringify(result), pendingProgress, Date.now()), {
          type: 'completed',
          job: ref,
          result,
        }),
        (err: unknown) => this.onError(row, ref, attempt, err, () => pendingProgress),
      )
      .catch((err) => logger.error({ err, jobId: ref.id }, 'could not record the outcome of a job'))
      .finally(() => {
        this.active.set(row.queue, (this.active.get(row.queue) ?? 1) - 1);
        this.running.delete(row.id);
        this.dirty.add(row.queue);
        this.wake();
      });
    this.running.set(row.id, done);
  }

  private async onError(row: JobRow, ref: JobRef, attempt: number, err: unknown, progress: () => string | null): Promise<void> {
    const { store, registry } = this.deps;
    if (this.shutdown.signal.aborted) {
      // shutdown, not the job's fault: put it back untouched
      await retryBusy(() => store.release(row.id, this.id));
      return;
    }
    const message = errorMessage(err);
    const def = registry.tasks.get(row.name) ?? registry.tasks.get(registry.aliases.get(row.name)?.target ?? '');
    const willRetry = !isPermanent(err) && attempt < row.max_attempts && def !== undefined;
    if (willRetry) {
      const runAt = Date.now() + backoffDelay(def.retry.backoff, attempt);
      await this.finish(row, ref, () => store.retryLater(row.id, this.id, message, runAt), { type: 'failed', job: ref, error: message, willRetry });
      this.nextDueAt = this.nextDueAt === 0 ? runAt : Math.min(this.nextDueAt, runAt);
    } else {
      await this.finish(row, ref, () => store.fail(row.id, this.id, message, progress(), Date.now()), { type: 'failed', job: ref, error: message, willRetry });
      await runFailureHook({ id: ref.id, name: row.name, payload: parseJsonOrText(row.payload), attempt }, message, this.deps);
    }
    this.deps.logger.warn({ jobId: ref.id, task: row.name, attempt, willRetry, err: message }, willRetry ? 'job failed, will retry' : 'job failed');
  }

  /** records an outcome if this worker still owns the job, then tells listeners */
  private async finish(row: JobRow, ref: JobRef, write: () => boolean, event: JobEvent): Promise<void> {
    const owned = await retryBusy(write);
    if (!owned) {
      this.deps.logger.warn({ jobId: ref.id, task: row.name }, 'job outcome dropped: its lock was lost (it was recovered as stalled)');
      return;
    }
    this.deps.emit(event);
  }

  private async heartbeat(): Promise<void> {
    try {
      await retryBusy(() => this.deps.store.heartbeat(this.id, Date.now(), this.deps.lockMs));
    } catch (err) {
      this.deps.logger.error({ err }, 'embedded worker heartbeat failed');
    }
  }

  /** puts back jobs whose worker died (same host, process gone) or stopped renewing its lock */
  private async recoverStalled(): Promise<void> {
    const { store, maxStalled, logger } = this.deps;
    try {
      const now = Date.now();
      const host = os.hostname();
      const candidates = await retryBusy(() => store.stalledCandidates(this.id));
      let found = false;
      for (const job of candidates) {
        const workerGone = job.pid === null || (job.host === host && !processAlive(job.pid));
        if (!workerGone && job.lock_until >= now) continue;
        const outcome = await retryBusy(() => store.recoverStalled(job, maxStalled, now));
        if (outcome !== 'gone') {
          found = true;
          logger.warn({ jobId: job.id, outcome }, 'recovered a stalled job (its worker died or froze)');
        }
      }
      for (const worker of await retryBusy(() => store.otherWorkers(this.id))) {
        const dead = (worker.host === host && !processAlive(worker.pid)) || worker.heartbeat_at < now - 10 * this.deps.lockMs;
        if (dead) await retryBusy(() => store.unregisterWorker(worker.id));
      }
      if (found) {
        for (const q of this.queues) this.dirty.add(q);
        this.wake();
      }
    } catch (err) {
      logger.error({ err }, 'stalled-job recovery failed');
    }
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.timer);
    for (const interval of this.intervals) clearInterval(interval);
    if (this.running.size > 0) {
      const graceTimer = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.allSettled([...this.running.values()]), graceTimer]);
    }
    if (this.running.size > 0) {
      this.shutdown.abort(new ShutdownError());
      await Promise.allSettled([...this.running.values()]);
    }
    await retryBusy(() => this.deps.store.unregisterWorker(this.id));
    this.deps.onClose(this);
  }
}
