// A registry of small tasks whose effects the broker contract suite can observe.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { z } from 'zod';
import { PermanentTaskError } from '../../src/broker/errors.js';
import { createRegistry, defineTask, type TaskRegistry } from '../../src/tasks/define.js';

/** What handlers of this process did, for assertions. Reset by each test. */
export const seen = {
  runs: [] as { task: string; key: string; at: number; attempt: number }[],
  current: 0,
  maxConcurrent: 0,
  reset() {
    this.runs = [];
    this.current = 0;
    this.maxConcurrent = 0;
  },
  of(key: string) {
    return this.runs.filter((r) => r.key === key);
  },
};

const keyed = z.object({ key: z.string() });
const fast = { attempts: 1, backoff: { baseMs: 0, factor: 1, capMs: 0 } };

export function testRegistry(): TaskRegistry {
  return createRegistry(
    [
      defineTask({
        name: 't.echo',
        queue: 'alpha',
        description: 'returns its value',
        schema: z.object({ key: z.string(), value: z.string() }),
        timeoutMs: 5_000,
        retry: fast,
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.echo', key: p.key, at: Date.now(), attempt: ctx.attempt });
          return { echo: p.value };
        },
      }),
      defineTask({
        name: 't.flaky',
        queue: 'alpha',
        description: 'fails `failTimes` times, then succeeds',
        schema: z.object({ key: z.string(), failTimes: z.number().int() }),
        timeoutMs: 5_000,
        retry: { attempts: 4, backoff: { baseMs: 200, factor: 2, capMs: 1_000 } },
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.flaky', key: p.key, at: Date.now(), attempt: ctx.attempt });
          if (ctx.attempt <= p.failTimes) throw new Error(`planned failure ${ctx.attempt}`);
          return { attempts: ctx.attempt };
        },
      }),
      defineTask({
        name: 't.permanent',
        queue: 'alpha',
        description: 'fails in a way retries cannot fix',
        schema: keyed,
        timeoutMs: 5_000,
        retry: { attempts: 3, backoff: { baseMs: 50, factor: 1, capMs: 50 } },
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.permanent', key: p.key, at: Date.now(), attempt: ctx.attempt });
          throw new PermanentTaskError('this file is not audio');
        },
      }),
      defineTask({
        name: 't.hang',
        queue: 'alpha',
        description: 'never finishes: the timeout must end it',
        schema: keyed,
        timeoutMs: 300,
        retry: fast,
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.hang', key: p.key, at: Date.now(), attempt: ctx.attempt });
          await new Promise(() => undefined);
        },
      }),
      defineTask({
        name: 't.sleep',
        queue: 'beta',
        description: 'sleeps, counting how many run at once',
        schema: z.object({ key: z.string(), ms: z.number().int() }),
        timeoutMs: 10_000,
        retry: fast,
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.sleep', key: p.key, at: Date.now(), attempt: ctx.attempt });
          seen.current++;
          seen.maxConcurrent = Math.max(seen.maxConcurrent, seen.current);
          try {
            await sleep(p.ms);
          } finally {
            seen.current--;
          }
        },
      }),
      defineTask({
        name: 't.limited',
        queue: 'limited',
        description: 'runs on the rate-limited queue',
        schema: keyed,
        timeoutMs: 5_000,
        retry: fast,
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.limited', key: p.key, at: Date.now(), attempt: ctx.attempt });
        },
      }),
      defineTask({
        name: 't.progress',
        queue: 'alpha',
        description: 'reports progress three times',
        schema: z.object({ key: z.string(), scanId: z.string() }),
        timeoutMs: 5_000,
        retry: fast,
        handler: async (p, ctx) => {
          for (const done of [1, 2, 3]) {
            await ctx.progress({ scanId: p.scanId, done, total: 3 });
            await sleep(5);
          }
          seen.runs.push({ task: 't.progress', key: p.key, at: Date.now(), attempt: ctx.attempt });
          return { scanId: ctx.scanId };
        },
      }),
      defineTask({
        name: 't.chain',
        queue: 'alpha',
        description: 'enqueues a follow-up by name',
        schema: keyed,
        timeoutMs: 5_000,
        retry: fast,
        handler: async (p, ctx) => {
          const next = await ctx.enqueue('t.echo', { key: p.key, value: 'from chain' });
          return { next: next.id, queue: next.queue };
        },
      }),
      defineTask({
        name: 't.serves',
        queue: 'alpha',
        description: 'tells which tasks its worker also takes',
        schema: keyed,
        timeoutMs: 5_000,
        retry: fast,
        handler: async (_p, ctx) => ({ alpha: ctx.serves?.('t.echo'), beta: ctx.serves?.('t.sleep'), unknown: ctx.serves?.('t.nope') }),
      }),
      defineTask({
        name: 't.tick',
        queue: 'alpha',
        description: 'fired by the scheduler',
        schema: z.object({ key: z.string() }),
        timeoutMs: 5_000,
        retry: fast,
        handler: async (p, ctx) => {
          seen.runs.push({ task: 't.tick', key: p.key, at: Date.now(), attempt: ctx.attempt });
        },
      }),
      defineTask({
        name: 't.crashable',
        queue: 'alpha',
        description: 'marks its start, works a while, then records its effect once per run',
        schema: z.object({ dir: z.string(), workMs: z.number().int() }),
        timeoutMs: 30_000,
        retry: { attempts: 2, backoff: { baseMs: 100, factor: 1, capMs: 100 } },
        handler: async (p) => {
          fs.writeFileSync(path.join(p.dir, `started-${process.pid}`), '');
          await sleep(p.workMs);
          fs.appendFileSync(path.join(p.dir, 'effects'), `${process.pid}\n`);
          return { pid: process.pid };
        },
      }),
      defineTask({
        name: 't.poison',
        queue: 'alpha',
        description: 'kills the process running it, every time (a track that crashes its decoder, say)',
        schema: z.object({ dir: z.string() }),
        timeoutMs: 30_000,
        retry: { attempts: 3, backoff: { baseMs: 100, factor: 1, capMs: 100 } },
        handler: async (p) => {
          fs.writeFileSync(path.join(p.dir, `started-${process.pid}`), '');
          process.kill(process.pid, 'SIGKILL');
          await sleep(60_000);
          return {};
        },
      }),
      defineTask({
        name: 't.transaction',
        queue: 'beta',
        description: 'holds a library write transaction open across awaits',
        schema: z.object({ key: z.string(), holdMs: z.number().int() }),
        timeoutMs: 10_000,
        retry: fast,
        handler: async (p, ctx) => {
          await sql`CREATE TABLE IF NOT EXISTS t_effects (key TEXT NOT NULL)`.execute(ctx.db);
          await ctx.db.transaction().execute(async (trx) => {
            await sql`INSERT INTO t_effects (key) VALUES (${p.key})`.execute(trx);
            await sleep(p.holdMs);
          });
          seen.runs.push({ task: 't.transaction', key: p.key, at: Date.now(), attempt: ctx.attempt });
          const next = await ctx.enqueue('t.echo', { key: `${p.key}-after`, value: 'after commit' });
          return { next: next.id };
        },
      }),
      defineTask({
        name: 't.unavailable',
        queue: 'alpha',
        description: 'declared, handler not landed',
        schema: keyed,
        timeoutMs: 5_000,
        arrivesWith: 'a later issue',
      }),
    ],
    {
      alpha: { concurrency: 1 },
      beta: { concurrency: 2 },
      limited: { concurrency: 5, rateLimit: { max: 2, durationMs: 500 } },
    },
    [{ name: 'legacy_echo', target: 't.echo', positional: ['key', 'text'], adapt: (p) => ({ key: p.key, value: p.text }) }],
  );
}
