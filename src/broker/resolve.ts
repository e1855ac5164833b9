import type { Logger } from 'pino';
import { z } from '../utils/schema.js';
import type { EnqueueOptions, TaskDefinition, TaskRegistry } from '../tasks/define.js';
import { PayloadValidationError, TaskNotAvailableError, UnknownTaskError } from './errors.js';

export interface ResolvedTask {
  def: TaskDefinition;
  payload: unknown;
}

const warnedAliases = new Set<string>();

/**
 * Maps a task name (or a legacy alias) to its declaration and a validated payload.
 * Every way into the queue goes through here, so no producer can pick a queue or skip validation.
 */
export function resolveTask(registry: TaskRegistry, name: string, payload: unknown, log?: Logger): ResolvedTask {
  let def = registry.tasks.get(name);
  let input: unknown = payload ?? {};
  if (!def) {
    const alias = registry.aliases.get(name);
    if (!alias) throw new UnknownTaskError(name, [...registry.tasks.keys()]);
    if (!warnedAliases.has(name)) {
      warnedAliases.add(name);
      log?.warn({ alias: name, task: alias.target }, `task name "${name}" is deprecated: use "${alias.target}"`);
    }
    def = registry.tasks.get(alias.target);
    if (!def) throw new UnknownTaskError(alias.target, [...registry.tasks.keys()]);
    if (alias.adapt && isRecord(input)) input = alias.adapt(input);
  }
  return { def, payload: validatePayload(def, input) };
}

/** Same as resolveTask, and refuses a task whose handler has not landed yet. */
export function resolveRunnable(registry: TaskRegistry, name: string, payload: unknown, log?: Logger): ResolvedTask {
  const resolved = resolveTask(registry, name, payload, log);
  if (!resolved.def.handler) throw new TaskNotAvailableError(resolved.def.name, resolved.def.arrivesWith);
  return resolved;
}

export function validatePayload(def: TaskDefinition, payload: unknown): unknown {
  const result = z.safeParse(def.schema, payload);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
    return `${where}: ${issue.message}`;
  });
  throw new PayloadValidationError(def.name, issues);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const MAX_PRIORITY = 2_097_151;
const JOB_ID = /^(?!\d+$)[A-Za-z0-9_.-]{1,200}$/;

export interface PlannedJob {
  name: string;
  queue: string;
  payload: unknown;
  priority: number;
  delayMs: number;
  jobId?: string;
  attempts: number;
}

/** Everything a broker needs to store a job, checked the same way for both brokers. */
export function planJob(registry: TaskRegistry, name: string, payload: unknown, options: EnqueueOptions = {}, log?: Logger): PlannedJob {
  const { def, payload: valid } = resolveRunnable(registry, name, payload, log);
  const priority = options.priority ?? def.priority;
  if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new RangeError(`priority must be an integer from 0 (first) to ${MAX_PRIORITY}, got ${priority}`);
  }
  const delayMs = options.delayMs ?? 0;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be a number >= 0, got ${delayMs}`);
  if (options.jobId !== undefined && !JOB_ID.test(options.jobId)) {
    throw new RangeError(`jobId "${options.jobId}" must be 1-200 characters of A-Z a-z 0-9 _ . - and not only digits`);
  }
  return {
    name: def.name,
    queue: def.queue,
    payload: valid,
    priority,
    delayMs: Math.round(delayMs),
    attempts: def.retry.attempts,
    ...(options.jobId !== undefined ? { jobId: options.jobId } : {}),
  };
}
