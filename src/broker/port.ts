// The broker port: what the rest of the worker may ask of a queue. Two adapters implement it
// (embedded SQLite, BullMQ on Redis) and one contract suite holds them to the same behaviour.
import type { EnqueueOptions, JobRef, ProgressValue } from '../tasks/define.js';
import type { Schedule } from '../schedules.js';

export const JOB_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobInfo extends JobRef {
  state: JobState;
  payload: unknown;
  priority: number;
  /** finished runs so far (failed or completed) */
  attemptsMade: number;
  maxAttempts: number;
  progress: ProgressValue | null;
  result: unknown;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export type QueueCounts = Record<string, Record<JobState, number>>;

export type JobEvent =
  | { type: 'active'; job: JobRef; attempt: number }
  | { type: 'progress'; job: JobRef; progress: ProgressValue; scanId?: string }
  | { type: 'completed'; job: JobRef; result: unknown }
  | { type: 'failed'; job: JobRef; error: string; willRetry: boolean };

export interface WorkerOptions {
  /** queues this process consumes; all of the registry's when absent */
  queues?: readonly string[];
  /** per-queue concurrency overrides */
  concurrency?: Record<string, number>;
}

export interface WorkerHandle {
  readonly queues: readonly string[];
  /** stops taking jobs; running jobs get `graceMs` to finish, then are aborted and put back */
  close(graceMs?: number): Promise<void>;
}

export interface SchedulerHandle {
  close(): Promise<void>;
}

export interface Broker {
  readonly kind: 'embedded' | 'bullmq';
  /** validates name and payload first: an unknown name or a bad payload never reaches a queue */
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef>;
  enqueueMany(jobs: readonly { name: string; payload: unknown; options?: EnqueueOptions }[]): Promise<JobRef[]>;
  getJob(id: string): Promise<JobInfo | null>;
  listJobs(query: { queue?: string; state: JobState; limit?: number }): Promise<JobInfo[]>;
  counts(): Promise<QueueCounts>;
  /** jobs of one queue waiting or running (cheaper than counts) */
  pending(queue: string): Promise<number>;
  /** failed → waiting with a fresh set of attempts; returns how many were retried */
  retry(ids: readonly string[]): Promise<number>;
  retryAllFailed(queue?: string): Promise<number>;
  /** resolves with the finished job, or null on timeout */
  waitForJob(id: string, timeoutMs: number): Promise<JobInfo | null>;
  startWorker(options?: WorkerOptions): Promise<WorkerHandle>;
  startScheduler(schedules: readonly Schedule[]): Promise<SchedulerHandle>;
  /** job lifecycle and progress events; returns an unsubscribe function */
  subscribe(listener: (event: JobEvent) => void): Promise<() => Promise<void>>;
  /** drops finished jobs past the retention policy; returns how many were removed */
  prune(): Promise<number>;
  close(): Promise<void>;
}

export interface RetentionPolicy {
  completedMaxAgeMs: number;
  completedMaxCount: number;
  failedMaxAgeMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  completedMaxAgeMs: 24 * 3_600_000,
  completedMaxCount: 1_000,
  failedMaxAgeMs: 7 * 24 * 3_600_000,
};

export function emptyCounts(queues: readonly string[]): QueueCounts {
  const counts: QueueCounts = {};
  for (const queue of queues) counts[queue] = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
  return counts;
}

/** `<queue>:<local id>` → its two parts */
export function splitJobId(id: string): { queue: string; local: string } | null {
  const at = id.indexOf(':');
  if (at <= 0 || at === id.length - 1) return null;
  return { queue: id.slice(0, at), local: id.slice(at + 1) };
}

/** Polls a broker until the job has finished (completed or failed); null on timeout. */
export async function pollUntilFinished(getJob: (id: string) => Promise<JobInfo | null>, id: string, timeoutMs: number): Promise<JobInfo | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(id);
    if (job && (job.state === 'completed' || job.state === 'failed')) return job;
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(1, deadline - Date.now()))));
  }
}
