// Celery's Redis result backend, as Python's AsyncResult reads it: the key
// `celery-task-meta-<task id>` holds the JSON meta {status, result, traceback, children,
// date_done, task_id}, and every write is PUBLISHed on a channel of the same name, because
// AsyncResult.get() waits on that channel (it reads the key once when it starts waiting).
import os from 'node:os';
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** see STORE */
    celeryStoreResult(key: string, meta: string, ttlSeconds: number): Result<number, Context>;
  }
}

export type CeleryState = 'STARTED' | 'SUCCESS' | 'FAILURE' | 'RETRY' | 'REVOKED';

/** A failure as Celery serialises exceptions with the JSON serializer. */
export interface CeleryException {
  exc_type: string;
  exc_message: string[];
  exc_module: string;
}

export type Outcome =
  | { state: 'STARTED' }
  | { state: 'SUCCESS'; result: unknown }
  | { state: 'FAILURE' | 'RETRY' | 'REVOKED'; exception: CeleryException; traceback: string };

/** What a stored meta says about the call, besides its outcome. */
export interface CallInfo {
  taskId: string;
  parentId: string | null;
  groupId: string | null;
}

// Python rebuilds the exception from exc_module.exc_type. Our module is never loaded in a Python
// client, so Celery creates an Exception subclass named exc_type (celery.exceptions namespace)
// whose message is exc_message: `except Exception as e: str(e)` is our error message.
const OUR_MODULE = 'soniquebay';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function ourException(type: string, message: string): CeleryException {
  return { exc_type: NAME.test(type) ? type : 'TaskError', exc_message: [message], exc_module: OUR_MODULE };
}

/** Celery's own exception for a message that expired before it ran. */
export function expiredException(): CeleryException {
  return { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' };
}

/** The traceback text Celery shows for a failure (AsyncResult.traceback): where it failed, then what. */
export function tracebackOf(where: string, exception: CeleryException): string {
  return `Traceback (most recent call last):\n  ${where}\n${exception.exc_type}: ${exception.exc_message.join(' ')}\n`;
}

const READY: readonly CeleryState[] = ['SUCCESS', 'FAILURE', 'REVOKED'];

// Celery never overwrites a SUCCESS (a lost worker's late report must not replace a result);
// here the check and the write are one atomic step.
const STORE = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and meta.status == 'SUCCESS' then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1`;

export class ResultBackend {
  private readonly hostname = `soniquebay@${os.hostname()}`;

  constructor(
    private readonly redis: Redis,
    private readonly expiresSeconds: number,
  ) {
    redis.defineCommand('celeryStoreResult', { numberOfKeys: 1, lua: STORE });
  }

  /** writes the meta of one state; false when a SUCCESS was already there */
  async store(call: CallInfo, outcome: Outcome): Promise<boolean> {
    const meta = {
      status: outcome.state,
      result: outcome.state === 'STARTED' ? { pid: process.pid, hostname: this.hostname } : outcome.state === 'SUCCESS' ? (outcome.result ?? null) : outcome.exception,
      traceback: 'traceback' in outcome ? outcome.traceback : null,
      children: [],
      // Python's datetime.utcnow().isoformat(): no offset, microseconds
      date_done: READY.includes(outcome.state) ? `${new Date().toISOString().slice(0, -1)}000` : null,
      task_id: call.taskId,
      ...(call.groupId ? { group_id: call.groupId } : {}),
      ...(call.parentId ? { parent_id: call.parentId } : {}),
    };
    return (await this.redis.celeryStoreResult(`celery-task-meta-${call.taskId}`, JSON.stringify(meta), this.expiresSeconds)) === 1;
  }
}
