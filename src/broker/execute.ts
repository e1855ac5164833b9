import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Db } from '../db/types.js';
import type { Services } from '../services/index.js';
import type { EnqueueOptions, JobRef, JobsAccess, ProgressValue, TaskContext, TaskRegistry } from '../tasks/define.js';
import { TaskTimeoutError } from './errors.js';
import { resolveRunnable } from './resolve.js';

export interface RunnableJob {
  id: string;
  name: string;
  payload: unknown;
  /** 1 for the first run */
  attempt: number;
}

export interface ExecuteDeps {
  registry: TaskRegistry;
  db: Db;
  services: Services;
  logger: Logger;
  enqueue(name: string, payload: unknown, options?: EnqueueOptions): Promise<JobRef>;
  jobs: JobsAccess;
  progress(value: ProgressValue): Promise<void>;
  /** aborted when the worker shuts down */
  shutdown?: AbortSignal;
  /** the queues the worker running the job consumes */
  queues?: readonly string[];
}

/** The abort a worker sends its running jobs on shutdown: one listener per running job, so no cap. */
export function shutdownController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/**
 * Runs one job the same way on every broker: resolve the name, validate the payload before the
 * handler sees it, build the context, enforce the timeout. Throws what the handler throws.
 */
export async function executeJob(job: RunnableJob, deps: ExecuteDeps): Promise<unknown> {
  const { def, payload } = resolveRunnable(deps.registry, job.name, job.payload, deps.logger);
  const handler = def.handler!;
  const scanId = scanIdOf(payload);
  const controller = new AbortController();
  // a batch handler may hand every item of its batch to a pool that listens for this abort
  setMaxListeners(0, controller.signal);
  // settles when the job is cut short: timeout or worker shutdown, whether or not the handler listens
  let interrupt!: (err: unknown) => void;
  const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
  const onShutdown = () => {
    const reason: unknown = deps.shutdown?.reason ?? new Error('worker shutting down');
    controller.abort(reason);
    interrupt(reason);
  };
  if (deps.shutdown?.aborted) onShutdown();
  deps.shutdown?.addEventListener('abort', onShutdown, { once: true });

  const ctx: TaskContext = {
    db: deps.db,
    services: deps.services,
    log: deps.logger.child(scanId ? { task: def.name, jobId: job.id, scanId } : { task: def.name, jobId: job.id }),
    jobId: job.id,
    taskName: def.name,
    attempt: job.attempt,
    ...(scanId ? { scanId } : {}),
    progress: deps.progress,
    enqueue: deps.enqueue,
    ...(deps.queues ? { serves: servedBy(deps.registry, deps.queues) } : {}),
    jobs: deps.jobs,
    signal: controller.signal,
  };

  const timer = setTimeout(() => {
    const err = new TaskTimeoutError(def.name, def.timeoutMs);
    controller.abort(err);
    interrupt(err);
  }, def.timeoutMs);
  try {
    const running = Promise.resolve().then(() => handler(payload, ctx));
    // a handler that ignores the abort may still reject after the race is decided
    running.catch(() => undefined);
    const result = await Promise.race([running, interrupted]);
    return result === undefined ? null : result;
  } finally {
    clearTimeout(timer);
    deps.shutdown?.removeEventListener('abort', onShutdown);
  }
}

function servedBy(registry: TaskRegistry, queues: readonly string[]): (taskName: string) => boolean {
  return (taskName) => {
    const queue = registry.tasks.get(taskName)?.queue;
    return queue !== undefined && queues.includes(queue);
  };
}

function scanIdOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const value = (payload as { scanId?: unknown }).scanId;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/**
 * Calls the task's onFinalFailure hook for a job that failed for good. A hook that throws is
 * logged: the job's own failure stays the recorded outcome.
 */
export async function runFailureHook(job: RunnableJob, error: string, deps: Omit<ExecuteDeps, 'progress' | 'shutdown' | 'jobs'>): Promise<void> {
  let resolved;
  try {
    resolved = resolveRunnable(deps.registry, job.name, job.payload);
  } catch {
    return; // unknown task or bad payload: nothing the hook could act on
  }
  const hook = resolved.def.onFinalFailure;
  if (!hook) return;
  const log = deps.logger.child({ task: resolved.def.name, jobId: job.id });
  try {
    await hook(resolved.payload, { db: deps.db, services: deps.services, log, enqueue: deps.enqueue, jobId: job.id, taskName: resolved.def.name }, error);
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'the failure hook of a failed job failed too');
  }
}
