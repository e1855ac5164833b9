// One contract, two brokers: every behaviour below must hold on the embedded SQLite broker and on
// the BullMQ broker alike (the BullMQ half runs when REDIS_URL is set, and always under CI=true).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PayloadValidationError, TaskNotAvailableError, UnknownTaskError } from '../../src/broker/errors.js';
import type { JobEvent } from '../../src/broker/port.js';
import { brokerKinds, createHarness, type BrokerKind, type Harness } from '../helpers/brokers.js';
import { seen, testRegistry } from '../helpers/test-tasks.js';

const registry = testRegistry();

async function until<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const kind of brokerKinds()) {
  describe(`broker contract: ${kind}`, () => {
    let h: Harness;
    beforeEach(async () => {
      seen.reset();
      h = await createHarness(kind, registry);
    });
    afterEach(async () => {
      await h.close();
    });

    it('runs an enqueued job and keeps its result', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.echo', { key: 'a', value: 'hello' });
      assert.equal(ref.queue, 'alpha');
      assert.match(ref.id, /^alpha:/);
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.equal(job?.state, 'completed');
      assert.deepEqual(job?.result, { echo: 'hello' });
      assert.equal(job?.attemptsMade, 1);
      const counts = await h.broker.counts();
      assert.equal(counts.alpha?.completed, 1);
    });

    it('rejects an unknown task name at enqueue with a clear error', async () => {
      await assert.rejects(h.broker.enqueue('t.ech', { key: 'a' }), (err: unknown) => {
        assert.ok(err instanceof UnknownTaskError);
        assert.match(err.message, /unknown task "t\.ech"/);
        return true;
      });
      const counts = await h.broker.counts();
      assert.equal(Object.values(counts).reduce((n, c) => n + c.waiting, 0), 0);
    });

    it('validates the payload at enqueue, naming the bad field', async () => {
      await assert.rejects(h.broker.enqueue('t.echo', { key: 'a', value: 42 }), (err: unknown) => {
        assert.ok(err instanceof PayloadValidationError);
        assert.match(err.message, /value/);
        return true;
      });
    });

    it('refuses a task whose handler has not landed, naming where it comes from', async () => {
      await assert.rejects(h.broker.enqueue('t.unavailable', { key: 'a' }), (err: unknown) => {
        assert.ok(err instanceof TaskNotAvailableError);
        assert.match(err.message, /not available yet.*a later issue/);
        return true;
      });
    });

    it('never lets an invalid payload reach a handler, whoever queued it', async () => {
      await h.broker.startWorker();
      const id = await h.injectRaw('alpha', 't.echo', { key: 'raw', value: 7 });
      const job = await h.broker.waitForJob(id, 5_000);
      assert.equal(job?.state, 'failed');
      assert.match(job?.error ?? '', /invalid payload for t\.echo: value/);
      assert.equal(job?.attemptsMade, 1, 'a bad payload is not retried');
      assert.equal(seen.of('raw').length, 0);
    });

    it('routes a legacy name to its task with the payload adapted', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('legacy_echo', { key: 'old', text: 'still works' });
      assert.equal(ref.name, 't.echo');
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.deepEqual(job?.result, { echo: 'still works' });
    });

    it('retries with exponential backoff and then succeeds', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.flaky', { key: 'f', failTimes: 2 });
      const job = await h.broker.waitForJob(ref.id, 10_000);
      assert.equal(job?.state, 'completed');
      assert.equal(job?.attemptsMade, 3);
      const at = seen.of('f').map((r) => r.at);
      assert.equal(at.length, 3);
      const [first, second] = [at[1]! - at[0]!, at[2]! - at[1]!];
      // policy: 200 ms, then 400 ms (factor 2); a little early is a bug, late is scheduling noise
      assert.ok(first >= 190 && first < 1_000, `first retry after ${first} ms, expected ~200`);
      assert.ok(second >= 390 && second < 1_300, `second retry after ${second} ms, expected ~400`);
    });

    it('gives up after the last attempt and keeps the error', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.flaky', { key: 'g', failTimes: 10 });
      const job = await h.broker.waitForJob(ref.id, 10_000);
      assert.equal(job?.state, 'failed');
      assert.equal(job?.attemptsMade, 4);
      assert.match(job?.error ?? '', /planned failure 4/);
      const failed = await h.broker.listJobs({ state: 'failed' });
      assert.deepEqual(failed.map((j) => j.id), [ref.id]);
    });

    it('does not retry a permanent failure', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.permanent', { key: 'p' });
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.equal(job?.state, 'failed');
      assert.match(job?.error ?? '', /not audio/);
      await sleep(200);
      assert.equal(seen.of('p').length, 1);
    });

    it('ends a job that runs past its timeout', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.hang', { key: 'h' });
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.equal(job?.state, 'failed');
      assert.match(job?.error ?? '', /timed out after 300 ms/);
    });

    it('retries a failed job on request', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.permanent', { key: 'r' });
      await h.broker.waitForJob(ref.id, 5_000);
      assert.equal(await h.broker.retry([ref.id]), 1);
      await until('the retried run', () => seen.of('r').length === 2);
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.equal(job?.state, 'failed');
      assert.equal(await h.broker.retryAllFailed('alpha'), 1);
      await until('the third run', () => seen.of('r').length === 3);
    });

    it('serves lower priority numbers first, FIFO within a priority', async () => {
      const jobs: [string, number][] = [['p5', 5], ['p1a', 1], ['p0a', 0], ['p1b', 1], ['p0b', 0], ['p3', 3]];
      for (const [key, priority] of jobs) await h.broker.enqueue('t.echo', { key, value: key }, { priority });
      await h.broker.startWorker({ queues: ['alpha'] });
      await until('all six jobs', () => seen.runs.length === 6);
      assert.deepEqual(seen.runs.map((r) => r.key), ['p0a', 'p0b', 'p1a', 'p1b', 'p3', 'p5']);
    });

    it('holds a delayed job until its time', async () => {
      await h.broker.startWorker();
      const enqueuedAt = Date.now();
      const ref = await h.broker.enqueue('t.echo', { key: 'd', value: 'later' }, { delayMs: 400 });
      assert.equal((await h.broker.getJob(ref.id))?.state, 'delayed');
      await h.broker.waitForJob(ref.id, 5_000);
      const ranAfter = seen.of('d')[0]!.at - enqueuedAt;
      assert.ok(ranAfter >= 390 && ranAfter < 1_500, `ran after ${ranAfter} ms, expected ~400`);
    });

    it('never runs more jobs of a queue at once than its concurrency', async () => {
      await h.broker.startWorker();
      const refs = [];
      for (let i = 0; i < 6; i++) refs.push(await h.broker.enqueue('t.sleep', { key: `s${i}`, ms: 150 }));
      for (const ref of refs) await h.broker.waitForJob(ref.id, 10_000);
      assert.equal(seen.maxConcurrent, 2);
    });

    it('counts a queue\'s jobs waiting or running as pending, and none once they are done', async () => {
      const refs = [await h.broker.enqueue('t.sleep', { key: 'p0', ms: 100 }), await h.broker.enqueue('t.sleep', { key: 'p1', ms: 100 }), await h.broker.enqueue('t.sleep', { key: 'p2', ms: 100 })];
      const queue = refs[0]!.queue;
      // a delayed job (a retry waiting for its time) is not pending; nor is a job of another queue
      await h.broker.enqueue('t.sleep', { key: 'later', ms: 1 }, { delayMs: 60_000 });
      await h.broker.enqueue('t.echo', { key: 'other', value: 'x' });
      assert.equal(await h.broker.pending(queue), 3);
      await h.broker.startWorker();
      await until('a running job', async () => (await h.broker.counts())[queue]?.active);
      assert.equal(await h.broker.pending(queue), 3);
      for (const ref of refs) await h.broker.waitForJob(ref.id, 10_000);
      assert.equal(await h.broker.pending(queue), 0);
      assert.equal((await h.broker.counts())[queue]?.delayed, 1);
    });

    it('starts no more jobs per window than the queue rate limit', async () => {
      await h.broker.startWorker();
      const refs = [];
      for (let i = 0; i < 6; i++) refs.push(await h.broker.enqueue('t.limited', { key: 'l' }));
      for (const ref of refs) await h.broker.waitForJob(ref.id, 10_000);
      const at = seen.of('l').map((r) => r.at).sort((a, b) => a - b);
      // 2 per 500 ms window, the window opening with its first job
      assert.ok(at[2]! - at[0]! >= 480, `third start ${at[2]! - at[0]!} ms after the first`);
      assert.ok(at[4]! - at[2]! >= 480, `fifth start ${at[4]! - at[2]!} ms after the third`);
    });

    it('reports progress as events with the scan id and keeps the last value', async () => {
      const events: JobEvent[] = [];
      const unsubscribe = await h.broker.subscribe((e) => events.push(e));
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.progress', { key: 'pr', scanId: 'scan-42' });
      const job = await h.broker.waitForJob(ref.id, 5_000);
      assert.deepEqual(job?.result, { scanId: 'scan-42' });
      assert.deepEqual(job?.progress, { scanId: 'scan-42', done: 3, total: 3 });
      const progress = await until('a progress event', () => events.filter((e) => e.type === 'progress' && e.job.id === ref.id));
      assert.ok(progress.length >= 1);
      assert.ok(progress.every((e) => e.type === 'progress' && e.scanId === 'scan-42'));
      await until('the completed event', () => events.find((e) => e.type === 'completed' && e.job.id === ref.id));
      await unsubscribe();
    });

    it('lets a handler enqueue a follow-up by name only', async () => {
      await h.broker.startWorker();
      const ref = await h.broker.enqueue('t.chain', { key: 'c' });
      const job = await h.broker.waitForJob(ref.id, 5_000);
      const next = (job?.result as { next: string; queue: string }).next;
      assert.equal((await h.broker.waitForJob(next, 5_000))?.state, 'completed');
      assert.equal(seen.of('c').length, 1);
    });

    it('tells a handler which tasks its worker also takes (the queues it consumes)', async () => {
      const both = await h.broker.startWorker({ queues: ['alpha', 'beta'] });
      const first = await h.broker.waitForJob((await h.broker.enqueue('t.serves', { key: 's1' })).id, 5_000);
      assert.deepEqual(first?.result, { alpha: true, beta: true, unknown: false });
      await both.close();
      await h.broker.startWorker({ queues: ['alpha'] });
      const second = await h.broker.waitForJob((await h.broker.enqueue('t.serves', { key: 's2' })).id, 5_000);
      assert.deepEqual(second?.result, { alpha: true, beta: false, unknown: false });
    });

    it('waits out a handler\'s open database transaction instead of deadlocking', async () => {
      await h.broker.startWorker();
      const tx = await h.broker.enqueue('t.transaction', { key: 'tx', holdMs: 400 });
      await sleep(100);
      const others = [];
      for (let i = 0; i < 5; i++) others.push(await h.broker.enqueue('t.echo', { key: `during-${i}`, value: String(i) }));
      for (const ref of others) assert.equal((await h.broker.waitForJob(ref.id, 10_000))?.state, 'completed');
      const done = await h.broker.waitForJob(tx.id, 10_000);
      assert.equal(done?.state, 'completed');
      assert.equal((await h.broker.waitForJob((done?.result as { next: string }).next, 10_000))?.state, 'completed');
    });

    it('returns the existing job for a repeated job id', async () => {
      const a = await h.broker.enqueue('t.echo', { key: 'k', value: '1' }, { jobId: 'same-id' });
      const b = await h.broker.enqueue('t.echo', { key: 'k', value: '2' }, { jobId: 'same-id' });
      assert.equal(a.id, b.id);
      assert.equal(a.id, 'alpha:same-id');
      await h.broker.startWorker();
      await h.broker.waitForJob(a.id, 5_000);
      await sleep(100);
      assert.equal(seen.of('k').length, 1);
    });

    it('on shutdown, puts a job still running after the grace period back in its queue untouched', async () => {
      const worker = await h.broker.startWorker({ queues: ['beta'] });
      const ref = await h.broker.enqueue('t.sleep', { key: 'slow', ms: 1_500 });
      await until('the job to start', () => seen.of('slow').length === 1);
      await worker.close(100);
      const back = await h.broker.getJob(ref.id);
      assert.equal(back?.state, 'waiting');
      assert.equal(back?.attemptsMade, 0);
      await h.broker.startWorker({ queues: ['beta'] });
      assert.equal((await h.broker.waitForJob(ref.id, 10_000))?.state, 'completed');
      assert.equal(seen.of('slow').length, 2);
    });

    it('on shutdown, lets a job that finishes within the grace period complete', async () => {
      const worker = await h.broker.startWorker({ queues: ['beta'] });
      const ref = await h.broker.enqueue('t.sleep', { key: 'quick', ms: 200 });
      await until('the job to start', () => seen.of('quick').length === 1);
      await worker.close(5_000);
      assert.equal((await h.broker.getJob(ref.id))?.state, 'completed');
    });

    it('fires a periodic task once per tick however many schedulers run', async () => {
      const second = await h.openAnother();
      const schedule = [{ id: 'every-second', task: 't.tick', payload: { key: 'tick' }, cron: '* * * * * *', timezone: 'UTC' }];
      const s1 = await h.broker.startScheduler(schedule);
      const s2 = await second.startScheduler(schedule);
      await h.broker.startWorker();
      await second.startWorker();
      await sleep(3_600);
      await s1.close();
      await s2.close();
      const seconds = seen.of('tick').map((r) => Math.round(r.at / 1000));
      assert.ok(seconds.length >= 2, `only ${seconds.length} ticks fired in 3.6 s`);
      assert.equal(new Set(seconds).size, seconds.length, `a tick fired twice: ${seconds.join(',')}`);
    });
  });

  describe(`broker crash recovery: ${kind}`, () => {
    let h: Harness;
    const children: ChildProcess[] = [];
    before(async () => {
      h = await createHarness(kind, registry, { lockMs: 1_000 });
    });
    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await h.close();
    });

    function startWorkerProcess(extraEnv: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../helpers/worker-child.ts')], {
        env: { ...process.env, ...h.childEnv(), ...extraEnv },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
        child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
      });
    }

    it('re-runs exactly once a job whose worker was kill -9ed, after a restart', async () => {
      const work = fs.mkdtempSync(path.join(h.dir, 'crash-'));
      const ref = await h.broker.enqueue('t.crashable', { dir: work, workMs: 1_500 });
      const first = await startWorkerProcess();
      await until('the first run to start', () => fs.readdirSync(work).some((f) => f.startsWith('started-')));
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      assert.equal(fs.existsSync(path.join(work, 'effects')), false, 'the killed run must not have finished');

      const second = await startWorkerProcess();
      const job = await h.broker.waitForJob(ref.id, 20_000);
      assert.equal(job?.state, 'completed');
      assert.deepEqual(job?.result, { pid: second.pid });
      const starts = fs.readdirSync(work).filter((f) => f.startsWith('started-'));
      assert.deepEqual(starts.sort(), [`started-${first.pid}`, `started-${second.pid}`].sort());
      await sleep(500);
      assert.deepEqual(fs.readFileSync(path.join(work, 'effects'), 'utf8').trim().split('\n'), [String(second.pid)]);
    });

    it('fails a job that brings its worker down every time, after the allowed number of losses', { timeout: 90_000 }, async () => {
      const work = fs.mkdtempSync(path.join(h.dir, 'poison-'));
      const ref = await h.broker.enqueue('t.poison', { dir: work });
      const allowed = 2;
      const failed = async () => (await h.broker.getJob(ref.id))?.state === 'failed';
      // each worker takes the job and dies with it; the next one recovers it from the lost worker
      for (let life = 0; life < allowed + 3 && !(await failed()); life++) {
        const worker = await startWorkerProcess({ SB_TEST_MAX_STALLED: String(allowed) }).catch(() => undefined); // may die before 'ready'
        await until('the worker to die or the job to fail', async () => !worker || worker.exitCode !== null || worker.signalCode !== null || (await failed()), 30_000);
      }
      // not a crash loop: the job ends failed, saying why, after the first run and `allowed` recoveries
      const job = await h.broker.getJob(ref.id);
      const runs = fs.readdirSync(work).filter((f) => f.startsWith('started-'));
      assert.equal(job?.state, 'failed', `state ${job?.state} after ${runs.length} runs`);
      assert.match(String(job?.error), /stall/i);
      assert.equal(runs.length, allowed + 1);
    });
  });
}

export type { BrokerKind };
