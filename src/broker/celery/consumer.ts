// Takes Celery messages from kombu's Redis lists with late acknowledgement: a message leaves
// Redis only once its task has finished and its result is written.
//
// Where messages wait (kombu's Redis transport): producers LPUSH onto a list named after the
// queue; a message with priority p goes to `<queue>\x06\x16<step>` for the largest step of
// [0, 3, 6, 9] not above p (step 0 is the plain list), and consumers pop from the right, lower
// steps first. kombu itself acks late with BRPOP + an `unacked` hash written afterwards, which
// loses a message if the worker dies between the two.
//
// Here a claim is one Lua script: it pops up to N messages (priority steps in order, queues in a
// rotating order) and, in the same atomic step, records each in our processing hash (claim id →
// "<source list>\n<raw message>") with a lease in a sorted set (claim id → deadline, Redis server
// time, so clocks of several hosts do not matter). So a message is always either in its list or
// in the processing hash, never only in a dead process's memory.
// - While a task runs, its bridge renews the leases of every message it holds.
// - Ack = delete the claim (hash entry + lease) after the result is written (the messages
//   answered together are acknowledged together).
// - A lease that expired (its bridge died or lost Redis for longer than the lease) is restored:
//   the raw message goes back to the consuming end of its list and is delivered again. Every
//   bridge restores expired leases at start-up and then periodically; at start-up it also restores
//   at once the claims of dead processes of its own host (claim ids carry host and pid).
// - Redelivery is idempotent: the bridge enqueues with a job id made from the Celery task id, so
//   the second delivery finds the first one's job instead of running the task again.
// Polling cannot be avoided (no Redis command blocks on several lists without popping): an idle
// consumer claims again after a short pause that grows to IDLE_MAX_MS.
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import { processAlive } from '../../utils/process.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** see CLAIM */
    celeryClaim(numKeys: number, ...keysAndArgs: (string | number)[]): Result<string[], Context>;
    /** see RENEW */
    celeryRenew(leases: string, leaseMs: number, ...claimIds: string[]): Result<number, Context>;
    /** see RESTORE */
    celeryRestore(processing: string, leases: string, mode: 'expired' | 'ids', limit: number, ...claimIds: string[]): Result<number, Context>;
    /** see DEAD_LETTER */
    celeryDeadLetter(processing: string, leases: string, rejected: string, claimId: string): Result<number, Context>;
  }
}

/** kombu's priority steps and the separator of its priority list names */
const PRIORITY_STEPS = [0, 3, 6, 9] as const;
const SEPARATOR = '\x06\x16';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: processing hash, leases, then the source lists in the order they are served.
// ARGV: most messages to take, lease ms, claim id prefix, first sequence number.
const CLAIM = `${NOW_MS}
local max = tonumber(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local seq = tonumber(ARGV[4])
local out = {}
for i = 3, #KEYS do
  while #out < max * 3 do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    local id = ARGV[3] .. seq
    seq = seq + 1
    redis.call('HSET', KEYS[1], id, KEYS[i] .. '\\n' .. raw)
    redis.call('ZADD', KEYS[2], deadline, id)
    out[#out + 1] = id
    out[#out + 1] = KEYS[i]
    out[#out + 1] = raw
  end
  if #out >= max * 3 then break end
end
return out`;

// XX: a claim restored meanwhile (its lease had expired) is not brought back to life.
const RENEW = `${NOW_MS}
local deadline = now + tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', deadline, ARGV[i]) end
return n`;

// mode 'expired': every claim whose lease is over (at most ARGV[2]); mode 'ids': the listed claims.
const RESTORE = `${NOW_MS}
local ids
if ARGV[1] == 'expired' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
else
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local restored = 0
for _, id in ipairs(ids) do
  local held = redis.call('HGET', KEYS[1], id)
  if held then
    local cut = string.find(held, '\\n', 1, true)
    redis.call('RPUSH', string.sub(held, 1, cut - 1), string.sub(held, cut + 1))
    redis.call('HDEL', KEYS[1], id)
    restored = restored + 1
  end
  redis.call('ZREM', KEYS[2], id)
end
return restored`;

// A message nobody can answer (no task id to write a result for) is kept for inspection.
const DEAD_LETTER = `
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  redis.call('LPUSH', KEYS[3], held)
  redis.call('LTRIM', KEYS[3], 0, 999)
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return held and 1 or 0`;

export interface Claim {
  /** `<host>/<pid>/<run>/<n>` */
  id: string;
  /** the Redis list it came from */
  list: string;
  raw: string;
}

export interface ConsumerOptions {
  /** the Celery queue names to consume */
  queues: readonly string[];
  /** prefix of our own keys on the Celery broker's Redis */
  keyPrefix: string;
  leaseMs: number;
}

const RESTORE_BATCH = 500;

export class CeleryConsumer {
  private readonly processing: string;
  private readonly leases: string;
  private readonly rejected: string;
  private readonly claimPrefix = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}/`;
  private sequence = 0;
  private rotation = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: ConsumerOptions,
  ) {
    this.processing = `${options.keyPrefix}:processing`;
    this.leases = `${options.keyPrefix}:leases`;
    this.rejected = `${options.keyPrefix}:rejected`;
    redis.defineCommand('celeryClaim', { lua: CLAIM });
    redis.defineCommand('celeryRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('celeryRestore', { numberOfKeys: 2, lua: RESTORE });
    redis.defineCommand('celeryDeadLetter', { numberOfKeys: 3, lua: DEAD_LETTER });
  }

  /** the dead-letter list: messages without a task id, kept (last 1000) for inspection */
  get rejectedList(): string {
    return this.rejected;
  }

  /**
   * Declares the queues as a Celery worker does (kombu's `_kombu.binding.<exchange>` sets of the
   * direct exchange named after each queue), so that producers publishing by exchange and routing
   * key without declaring find them.
   */
  async declare(): Promise<void> {
    const multi = this.redis.multi();
    for (const queue of this.options.queues) multi.sadd(`_kombu.binding.${queue}`, [queue, '', queue].join(SEPARATOR));
    await multi.exec();
  }

  /** takes up to `max` messages, higher priorities first */
  async claim(max: number): Promise<Claim[]> {
    const queues = this.options.queues;
    const start = this.rotation++ % queues.length;
    const order = [...queues.slice(start), ...queues.slice(0, start)];
    const lists = PRIORITY_STEPS.flatMap((step) => order.map((queue) => (step === 0 ? queue : `${queue}${SEPARATOR}${step}`)));
    const flat = await this.redis.celeryClaim(lists.length + 2, this.processing, this.leases, ...lists, max, this.options.leaseMs, this.claimPrefix, this.sequence);
    const claims: Claim[] = [];
    for (let i = 0; i < flat.length; i += 3) claims.push({ id: flat[i]!, list: flat[i + 1]!, raw: flat[i + 2]! });
    this.sequence += claims.length;
    return claims;
  }

  async renew(claimIds: readonly string[]): Promise<void> {
    if (claimIds.length > 0) await this.redis.celeryRenew(this.leases, this.options.leaseMs, ...claimIds);
  }

  async ack(claimIds: readonly string[]): Promise<void> {
    if (claimIds.length > 0) await this.redis.multi().hdel(this.processing, ...claimIds).zrem(this.leases, ...claimIds).exec();
  }

  /** moves a message nobody can answer to the dead-letter list */
  async deadLetter(claimId: string): Promise<void> {
    await this.redis.celeryDeadLetter(this.processing, this.leases, this.rejected, claimId);
  }

  /** puts messages this process holds back in their lists (shutdown before their tasks ended) */
  async release(claimIds: readonly string[]): Promise<number> {
    return claimIds.length > 0 ? this.redis.celeryRestore(this.processing, this.leases, 'ids', 0, ...claimIds) : 0;
  }

  /** puts back every message whose lease expired; returns how many */
  async restoreExpired(): Promise<number> {
    let total = 0;
    for (let n = RESTORE_BATCH; n === RESTORE_BATCH; total += n) {
      n = await this.redis.celeryRestore(this.processing, this.leases, 'expired', RESTORE_BATCH);
    }
    return total;
  }

  /** puts back at once the messages held by processes of this host that are gone */
  async restoreDeadLocal(): Promise<number> {
    const host = os.hostname();
    const dead = (await this.redis.zrange(this.leases, '0', '-1')).filter((id) => {
      const parts = id.split('/');
      if (parts.length < 4 || parts.slice(0, -3).join('/') !== host) return false;
      const pid = Number(parts[parts.length - 3]);
      // our own pid in a claim we did not make: a previous run of a restarted container
      return Number.isInteger(pid) && (pid === process.pid ? !id.startsWith(this.claimPrefix) : !processAlive(pid));
    });
    return this.release(dead);
  }
}
