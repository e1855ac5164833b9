// Shapes shared by every task declaration: the registry in src/tasks.ts and the test registries
// used by the broker contract suite are both built from these.
import type { Logger } from 'pino';
import type { z } from '../utils/schema.js';
import type { Db } from '../db/types.js';
import type { Services } from '../services/index.js';

export interface BackoffPolicy {
  /** delay before the first retry */
  baseMs: number;
  /** each further retry waits `factor` times longer */
  factor: number;
  /** no retry waits longer than this */
  capMs: number;
}

export interface RetryPolicy {
  /** total runs allowed, the first one included (1 = never retried) */
  attempts: number;
  backoff: BackoffPolicy;
}

export interface RateLimit {
  /** jobs started at most… */
  max: number;
  /** …per fixed window of this many milliseconds (the window opens with its first job) */
  durationMs: number;
}

export interface QueueSettings {
  /** jobs of this queue run at once in one worker process */
  concurrency: number;
  rateLimit?: RateLimit;
}

export interface EnqueueOptions {
  /** 0 (the default) runs first; larger numbers wait for smaller ones; FIFO within a priority */
  priority?: number;
  /** milliseconds before the job may start */
  delayMs?: number;
  /** caller-chosen id (no ':'); enqueueing an id that exists returns the existing job */
  jobId?: string;
}

export interface JobRef {
  /** `<queue>:<id within the queue>`, the same form on every broker */
  id: string;
  name: string;
  queue: string;
}

export type ProgressValue = number | Record<string, unknown>;

/** What maintenance tasks may ask of the broker: job counts, and pruning finished job records. */
export interface JobsAccess {
  counts(): Promise<Record<string, Record<string, number>>>;
  /** drops finished jobs past the retention policy; returns how many */
  prune(): Promise<number>;
}

/** What every handler receives besides its validated payload. */
export interface TaskContext {
  db: Db;
  /** image store, outside HTTP client, cover settings */
  services: Services;
  log: Logger;
  jobId: string;
  taskName: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  /** set when the payload carries a scan id: the correlation id of a scan */
  scanId?: string;
  progress(value: ProgressValue): Promise<void>;
  /** routes by task name only: the routing table picks the queue */
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef>;
  /**
   * Whether the worker running this job also takes the jobs of `taskName`'s queue: a handler may
   * then do that next step itself instead of queuing it (absent outside a worker: queue it).
   */
  serves?(taskName: string): boolean;
  jobs: JobsAccess;
  /** aborted on timeout or shutdown; long handlers check it between units of work */
  signal: AbortSignal;
}

export type TaskHandler<P> = (payload: P, ctx: TaskContext) => Promise<unknown>;

/** What a failure hook gets: the job is over, so no progress and no abort signal. */
export type FailureContext = Pick<TaskContext, 'db' | 'services' | 'log' | 'enqueue' | 'jobId' | 'taskName'>;

export interface TaskDefinition<S extends z.core.$ZodType = z.core.$ZodType> {
  name: string;
  queue: string;
  description: string;
  schema: S;
  retry: RetryPolicy;
  timeoutMs: number;
  /** default priority of this task's jobs (see EnqueueOptions.priority) */
  priority: number;
  /** Celery positional arguments, in order, mapped onto payload keys */
  positional: readonly string[];
  /** absent while the stage that implements it has not landed: the task refuses to run */
  handler?: TaskHandler<z.infer<S>>;
  /** where the handler comes from when it is absent, for the "not available yet" error */
  arrivesWith?: string;
  /**
   * Runs once when a job of this task has failed for good (retries exhausted or a permanent
   * error), so that its work is recorded as failed instead of silently lost.
   */
  onFinalFailure?: (payload: z.infer<S>, ctx: FailureContext, error: string) => Promise<void>;
}

export interface LegacyAlias {
  /** the old name that producers may still send */
  name: string;
  /** the task it now means */
  target: string;
  /** Celery positional arguments of the old signature, mapped onto payload keys */
  positional: readonly string[];
  /** turns an old-shaped payload into the target's payload; identity when absent */
  adapt?: (payload: Record<string, unknown>) => unknown;
}

export interface TaskRegistry {
  tasks: ReadonlyMap<string, TaskDefinition>;
  aliases: ReadonlyMap<string, LegacyAlias>;
  queues: Readonly<Record<string, QueueSettings>>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  backoff: { baseMs: 10_000, factor: 2, capMs: 3_600_000 },
};

type TaskInput<S extends z.core.$ZodType> = Omit<TaskDefinition<S>, 'retry' | 'priority' | 'positional'> &
  Partial<Pick<TaskDefinition<S>, 'retry' | 'priority' | 'positional'>>;

/** Fills the defaults of a task declaration; keeps the payload type for the handler. */
export function defineTask<S extends z.core.$ZodType>(input: TaskInput<S>): TaskDefinition<S> {
  return { retry: DEFAULT_RETRY, priority: 0, positional: [], ...input };
}

export function createRegistry(
  tasks: readonly TaskDefinition[],
  queues: Record<string, QueueSettings>,
  aliases: readonly LegacyAlias[] = [],
): TaskRegistry {
  const byName = new Map<string, TaskDefinition>();
  for (const task of tasks) {
    if (byName.has(task.name)) throw new Error(`task ${task.name} is declared twice`);
    if (!(task.queue in queues)) throw new Error(`task ${task.name} routes to unknown queue ${task.queue}`);
    byName.set(task.name, task);
  }
  const aliasMap = new Map<string, LegacyAlias>();
  for (const alias of aliases) {
    if (byName.has(alias.name)) throw new Error(`legacy alias ${alias.name} shadows a task`);
    if (!byName.has(alias.target)) throw new Error(`legacy alias ${alias.name} points at unknown task ${alias.target}`);
    aliasMap.set(alias.name, alias);
  }
  return { tasks: byName, aliases: aliasMap, queues };
}
