// Celery's Redis result backend, as Python's AsyncResult reads it: the key
// `celery-task-meta-<task id>` holds the JSON meta {status, result, traceback, children,
// date_done, task_id}, and every write is PUBLISHed on a channel of the same name, because
// AsyncResult.get() waits on that channel (it reads the key once when it starts waiting).
import os from 'node:os';
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** see STORE */
    celeryStoreResults(numKeys: number, ...keysAndArgs: (string | number)[]): Result<null, Context>;
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
// here the check and the write are one atomic step. KEYS: the result keys; ARGV: expiry in
// seconds, then the meta of each key, in order.
const STORE = `
for i = 1, #KEYS do
  local current = redis.call('GET', KEYS[i])
  local ok, meta = false, nil
  -- decoded only when it may be a SUCCESS (usually it is our STARTED)
  if current and string.find(current, 'SUCCESS', 1, true) then ok, meta = pcall(cjson.decode, current) end
  if not (ok and type(meta) == 'table' and meta.status == 'SUCCESS') then
    redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1])
    redis.call('PUBLISH', KEYS[i], ARGV[i + 1])
  end
end`;

export class ResultBackend {
  private readonly hostname = `soniquebay@${os.hostname()}`;

  constructor(
    private readonly redis: Redis,
    private readonly expiresSeconds: number,
  ) {
    redis.defineCommand('celeryStoreResults', { lua: STORE });
  }

  /** writes the metas of several states in one step, in order; a stored SUCCESS stays */
  async store(states: readonly { call: CallInfo; outcome: Outcome }[]): Promise<void> {
    if (states.length === 0) return;
    const keys = states.map(({ call }) => `celery-task-meta-${call.taskId}`);
    await this.redis.celeryStoreResults(keys.length, ...keys, this.expiresSeconds, ...states.map(({ call, outcome }) => JSON.stringify(this.meta(call, outcome))));
  }

  private meta(call: CallInfo, outcome: Outcome): Record<string, unknown> {
    return {
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
  }
}
