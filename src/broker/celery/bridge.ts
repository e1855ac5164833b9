// The Celery bridge: Python Celery clients keep calling `send_task(...)` and
// `AsyncResult(id).get()`, and this worker answers. Each message taken from Celery's Redis lists
// (consumer.ts) is mapped through the registry and its legacy aliases (arguments.ts), enqueued on
// our own broker under a job id made from the Celery task id, and followed through the broker's
// events until the job has finished; then its Celery result is written (results.ts) and only
// then is the message acknowledged.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Db } from '../../db/types.js';
import type { EnqueueOptions, TaskRegistry } from '../../tasks/define.js';
import { errorMessage } from '../errors.js';
import type { Broker, JobEvent, JobInfo } from '../port.js';
import { planJob } from '../resolve.js';
import { celeryCall, taskOf } from './arguments.js';
import { CeleryConsumer, type Claim } from './consumer.js';
import { CeleryMessageError, parseMessage, type CeleryMessage } from './message.js';
import { retrainEvent, ScanProgressPublisher } from './progress.js';
import { ResultBackend, expiredException, ourException, tracebackOf, type CallInfo, type CeleryException, type Outcome } from './results.js';
import type { CelerySettings } from './settings.js';

/** what the bridge runs on, and where it finds Celery (settings.ts) */
export interface CeleryBridgeOptions extends CelerySettings {
  broker: Broker;
  registry: TaskRegistry;
  logger: Logger;
  /** how often the outcome of a held job is read in case its event was missed (default 1000) */
  checkEveryMs?: number;
  /** our library: with it, scans SoniqueBay started are followed and their progress published (contract §2) */
  db?: Db;
}

/** one message this bridge holds */
interface Held {
  claim: Claim;
  /** who to answer, once the message is read */
  call?: CallInfo & { task: string; ignoreResult: boolean };
  /** our job (`<queue>:celery-<id>`), once known */
  jobId?: string;
  /** the job is in our broker: its state can be read */
  enqueued: boolean;
  lastState?: Outcome['state'];
  /** no state comes after this one's: the final one is known, or the bridge is closing */
  done: boolean;
  /** the final state is written with the next flush, and the message acknowledged */
  answered: boolean;
  checkedAt: number;
  /** states to write at the next flush, in order; after a final one the message is acknowledged */
  unsent: Outcome[];
  /** the task it runs (a Celery override may differ from the name sent) */
  runs?: string;
  /** a retrain SoniqueBay asked for: its options, for the vectorization_progress events */
  retrain?: Record<string, unknown>;
}

const SCAN_TASK = 'scan.discovery';
const RETRAIN_TASKS = new Set(['trigger_vectorizer_retrain', 'vectorization.train_model']);

const CLAIM_BATCH = 64;
const IDLE_MIN_MS = 5;
const IDLE_MAX_MS = 100;
const JOB_KEY = /^[A-Za-z0-9_.-]{1,190}$/;

/** Our job id for a Celery task id: the same message delivered twice finds the same job. */
export function jobKeyFor(celeryId: string): string {
  return `celery-${JOB_KEY.test(celeryId) ? celeryId : createHash('sha256').update(celeryId).digest('hex').slice(0, 40)}`;
}

export class CeleryBridge {
  private readonly held = new Map<string, Held>();
  private readonly byJob = new Map<string, Set<Held>>();
  private readonly results: ResultBackend;
  private readonly consumer: CeleryConsumer;
  private readonly log: Logger;
  private closing = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** messages with a state to write at the next flush */
  private readonly dirty = new Set<Held>();
  /** settles once every flush scheduled so far is done */
  private flushed: Promise<void> = Promise.resolve();
  private readonly progress: ScanProgressPublisher | null;

  private constructor(
    private readonly options: CeleryBridgeOptions,
    private readonly brokerRedis: Redis,
    private readonly resultRedis: Redis,
  ) {
    this.log = options.logger.child({ component: 'celery-bridge' });
    this.consumer = new CeleryConsumer(brokerRedis, { queues: options.queues, keyPrefix: options.keyPrefix, leaseMs: options.leaseMs });
    this.results = new ResultBackend(resultRedis, options.resultExpiresSeconds);
    // SoniqueBay listens on the Redis its Celery broker URL names
    this.progress = options.db ? new ScanProgressPublisher(brokerRedis, options.db, this.log) : null;
  }

  static async start(options: CeleryBridgeOptions): Promise<CeleryBridge> {
    const connect = (url: string) => {
      const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: null });
      redis.on('error', (err) => options.logger.error({ err: err.message }, 'celery bridge: redis connection error'));
      return redis;
    };
    const brokerRedis = connect(options.brokerUrl);
    const resultRedis = options.resultUrl === options.brokerUrl ? brokerRedis : connect(options.resultUrl);
    const bridge = new CeleryBridge(options, brokerRedis, resultRedis);
    try {
      await bridge.begin();
    } catch (err) {
      await bridge.disconnect();
      throw err;
    }
    return bridge;
  }

  private async begin(): Promise<void> {
    this.unsubscribe = await this.options.broker.subscribe((event) => this.onEvent(event));
    await this.consumer.declare();
    const dead = await this.consumer.restoreDeadLocal();
    const expired = await this.consumer.restoreExpired();
    if (dead + expired > 0) this.log.warn({ restored: dead + expired }, 'Celery messages held by a stopped worker are delivered again');
    const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => void fn().catch((err) => this.log.error({ err: errorMessage(err) }, what)), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.max(100, Math.floor(this.options.leaseMs / 3)), () => this.consumer.renew([...this.held.keys()]), 'could not renew the leases of held Celery messages');
    every(Math.max(200, Math.floor(this.options.leaseMs / 2)), () => this.restoreExpired(), 'could not restore expired Celery messages');
    every(this.options.checkEveryMs ?? 1_000, () => this.checkJobs(), 'could not read the state of Celery jobs');
    this.progress?.start();
    this.loop = this.run();
    this.log.info({ queues: this.options.queues, prefetch: this.options.prefetch }, 'Celery bridge consuming');
  }

  /** stops taking messages; held ones get `graceMs` to finish, then go back to their lists */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.wake?.();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.held.size > 0 && Date.now() < deadline) await this.nap(Math.min(100, deadline - Date.now()));
    for (const timer of this.timers) clearInterval(timer);
    await this.progress?.stop();
    await this.unsubscribe?.();
    for (const entry of this.held.values()) entry.done = true;
    await this.flushed;
    // the answered ones were acknowledged by that flush
    const left = [...this.held.values()].filter((entry) => !entry.answered);
    if (left.length > 0) {
      await this.consumer.release(left.map((entry) => entry.claim.id)).catch((err) => this.log.error({ err: errorMessage(err) }, 'could not put held Celery messages back: their leases will expire'));
      this.log.info({ messages: left.length }, 'Celery messages put back in their queues: their tasks had not finished (their jobs stay queued)');
    }
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    for (const redis of new Set([this.brokerRedis, this.resultRedis])) await redis.quit().catch(() => redis.disconnect());
  }

  private async restoreExpired(): Promise<void> {
    const restored = await this.consumer.restoreExpired();
    if (restored > 0) {
      this.log.warn({ restored }, 'Celery messages whose worker stopped renewing them are delivered again');
      this.wake?.();
    }
  }

  /** sleeps until `ms` passed or something changed (a message finished, closing) */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    // Under load every finished message frees one slot: claiming one message per slot would cost
    // a claim and an enqueue per message. So with less room than a batch, the loop waits (up to
    // IDLE_MAX_MS, so that a lone message is not held back long) for more room first.
    const batch = Math.max(1, Math.min(CLAIM_BATCH, Math.floor(this.options.prefetch / 4)));
    let idleMs = IDLE_MIN_MS;
    let shortSince = 0;
    while (!this.closing) {
      const room = this.options.prefetch - this.held.size;
      if (room < batch) {
        shortSince ||= Date.now();
        const waited = Date.now() - shortSince;
        if (room <= 0 || waited < IDLE_MAX_MS) {
          await this.nap(room <= 0 ? IDLE_MAX_MS : IDLE_MAX_MS - waited);
          continue;
        }
      }
      shortSince = 0;
      let claims: Claim[];
      try {
        claims = await this.consumer.claim(Math.min(room, CLAIM_BATCH));
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'could not take Celery messages');
        await this.nap(1_000);
        continue;
      }
      if (claims.length === 0) {
        await this.nap(idleMs);
        idleMs = Math.min(idleMs * 2, IDLE_MAX_MS);
        continue;
      }
      idleMs = IDLE_MIN_MS;
      void this.accept(claims);
    }
  }

  /** reads a batch of claimed messages and enqueues their tasks in one go */
  private async accept(claims: readonly Claim[]): Promise<void> {
    const jobs: { entry: Held; name: string; payload: unknown; options: EnqueueOptions }[] = [];
    for (const claim of claims) {
      const entry: Held = { claim, enqueued: false, done: false, answered: false, checkedAt: Date.now(), unsent: [] };
      this.held.set(claim.id, entry);
      const message = await this.read(entry);
      if (!message) continue;
      const where = `task "${message.task}", Celery id ${message.id}`;
      if (message.expires !== null && message.expires <= Date.now()) {
        const exception = expiredException();
        this.finish(entry, { state: 'REVOKED', exception, traceback: tracebackOf(where, exception) });
        continue;
      }
      try {
        const call = celeryCall(this.options.registry, message.task, message.args, message.kwargs);
        const runs = taskOf(this.options.registry, call.task)!;
        // a scan SoniqueBay started is known by its Celery id: our scan takes that id, so that
        // every stage's progress can be published under it
        const payload = runs.name === SCAN_TASK && isRecord(call.payload) && call.payload.scanId === undefined ? { ...call.payload, scanId: message.id } : call.payload;
        const options: EnqueueOptions = {
          jobId: jobKeyFor(message.id),
          priority: runs.priority + message.priority,
          ...(message.eta !== null && message.eta > Date.now() ? { delayMs: message.eta - Date.now() } : {}),
        };
        // checked here as enqueue will check it, so that one bad call does not sink the batch
        const planned = planJob(this.options.registry, call.task, payload, options);
        // followed before the job exists: its events may come before enqueueMany() returns
        this.follow(entry, `${planned.queue}:${options.jobId}`);
        entry.runs = runs.name;
        if (runs.name === SCAN_TASK) this.progress?.follow(message.id);
        if (RETRAIN_TASKS.has(message.task)) entry.retrain = isRecord(message.args[0]) ? message.args[0] : message.kwargs;
        jobs.push({ entry, name: call.task, payload, options });
      } catch (err) {
        this.finish(entry, failure(err instanceof Error ? err.name : 'Error', errorMessage(err), where));
      }
    }
    if (jobs.length === 0) return;
    try {
      await this.options.broker.enqueueMany(jobs);
      for (const { entry } of jobs) entry.enqueued = true;
    } catch (err) {
      // our broker is unreachable: not acknowledged, the messages come again when their leases end
      this.log.error({ messages: jobs.length, err: errorMessage(err) }, 'could not enqueue Celery tasks: they will be delivered again');
      for (const { entry } of jobs) this.forget(entry);
    }
  }

  /** the message of a claim; one that cannot run is answered (or dead-lettered) here */
  private async read(entry: Held): Promise<CeleryMessage | undefined> {
    const { claim } = entry;
    try {
      const message = parseMessage(claim.raw);
      entry.call = { taskId: message.id, parentId: message.parentId, groupId: message.groupId, task: message.task, ignoreResult: message.ignoreResult };
      return message;
    } catch (err) {
      const error = err as CeleryMessageError;
      if (error.taskId) {
        entry.call = { taskId: error.taskId, parentId: null, groupId: null, task: '(unreadable message)', ignoreResult: error.ignoreResult };
        this.finish(entry, failure(error.name, error.message, `Celery message from list "${claim.list}"`));
      } else {
        this.log.error({ list: claim.list, err: error.message, message: claim.raw.slice(0, 2_000) }, `unreadable Celery message moved to ${this.consumer.rejectedList}`);
        await this.consumer.deadLetter(claim.id).catch((e) => this.log.error({ err: errorMessage(e) }, 'could not dead-letter a Celery message'));
        this.forget(entry);
      }
      return undefined;
    }
  }

  private follow(entry: Held, jobId: string): void {
    entry.jobId = jobId;
    let set = this.byJob.get(jobId);
    if (!set) this.byJob.set(jobId, (set = new Set()));
    set.add(entry);
  }

  private forget(entry: Held): void {
    this.held.delete(entry.claim.id);
    if (entry.jobId) {
      const set = this.byJob.get(entry.jobId);
      set?.delete(entry);
      if (set?.size === 0) this.byJob.delete(entry.jobId);
    }
    this.wake?.();
  }

  private onEvent(event: JobEvent): void {
    const entries = this.byJob.get(event.job.id);
    if (!entries) return;
    for (const entry of entries) {
      this.publishFor(entry, event);
      if (event.type === 'active') this.report(entry, { state: 'STARTED' });
      else if (event.type === 'completed') this.finish(entry, { state: 'SUCCESS', result: event.result });
      else if (event.type === 'failed') {
        const outcome = failure('TaskError', event.error, `SoniqueBay job ${event.job.id} (task "${event.job.name}")`, event.willRetry ? 'RETRY' : 'FAILURE');
        if (event.willRetry) this.report(entry, outcome);
        else this.finish(entry, outcome);
      }
    }
  }

  /** SoniqueBay's side effects of a job's events: the scan it joined, a retrain's notifications */
  private publishFor(entry: Held, event: JobEvent): void {
    if (entry.runs === SCAN_TASK && event.type === 'completed' && isRecord(event.result) && typeof event.result.scanId === 'string') {
      this.progress?.joined(entry.call!.taskId, event.result.scanId);
    }
    if (!entry.retrain || !this.progress) return;
    const stage = event.type === 'active' ? 'starting' : event.type === 'completed' ? 'completed' : event.type === 'failed' && !event.willRetry ? 'failed' : null;
    if (!stage) return;
    const result = event.type === 'completed' && isRecord(event.result) ? event.result : {};
    const published = retrainEvent(stage, entry.retrain, { newVersion: result.version, ...(event.type === 'failed' ? { error: event.error } : {}) });
    void this.brokerRedis.publish('notifications', JSON.stringify(published)).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'could not publish a vectorization event'));
  }

  /** reads the jobs whose events may have been missed: run by another process, or already over */
  private async checkJobs(): Promise<void> {
    const now = Date.now();
    const every = this.options.checkEveryMs ?? 1_000;
    const due = [...this.held.values()].filter((entry) => entry.enqueued && !entry.done && now - entry.checkedAt >= every);
    await Promise.all(
      due.map(async (entry) => {
        entry.checkedAt = now;
        const job = await this.options.broker.getJob(entry.jobId!);
        if (!entry.done) this.fromJob(entry, job);
      }),
    );
  }

  private fromJob(entry: Held, job: JobInfo | null): void {
    const where = `SoniqueBay job ${entry.jobId} (task "${entry.call!.task}")`;
    if (!job) {
      // a job is removed only after it finished and its retention ran out
      this.finish(entry, failure('TaskError', `the job ${entry.jobId} no longer exists: it finished long ago and was pruned, its outcome is unknown`, where));
    } else if (job.state === 'completed') this.finish(entry, { state: 'SUCCESS', result: job.result });
    else if (job.state === 'failed') this.finish(entry, failure('TaskError', job.error ?? 'failed', where));
    else if (job.state === 'active' && entry.lastState !== 'STARTED') this.report(entry, { state: 'STARTED' });
    else if (job.state !== 'active' && job.attemptsMade > 0 && entry.lastState !== 'RETRY') this.report(entry, failure('TaskError', job.error ?? 'failed, will retry', where, 'RETRY'));
  }

  /** writes a passing state (STARTED, RETRY) unless the message is done */
  private report(entry: Held, outcome: Outcome): void {
    if (entry.done || entry.lastState === outcome.state) return;
    entry.lastState = outcome.state;
    if (!entry.call!.ignoreResult) this.schedule(entry, outcome);
  }

  /** writes the final state, then acknowledges the message */
  private finish(entry: Held, outcome: Outcome): void {
    if (entry.done) return;
    entry.done = true;
    entry.answered = true;
    entry.lastState = outcome.state;
    this.schedule(entry, outcome);
  }

  /**
   * States are written in batches: those reported while the bridge handles one round of I/O (a
   * read of the job events, a batch of claims) go out together after it, in one step, each
   * task's in order; then the messages whose final state was written are acknowledged together.
   */
  private schedule(entry: Held, outcome: Outcome): void {
    entry.unsent.push(outcome);
    if (this.dirty.size === 0) {
      const previous = this.flushed;
      this.flushed = new Promise((resolve) =>
        setImmediate(() => {
          const entries = [...this.dirty];
          this.dirty.clear();
          void Promise.all([previous, this.flush(entries)]).then(() => resolve());
        }),
      );
    }
    this.dirty.add(entry);
  }

  private async flush(entries: readonly Held[]): Promise<void> {
    const states = entries.flatMap((entry) => (entry.call!.ignoreResult ? [] : entry.unsent.map((outcome) => ({ call: entry.call!, outcome }))));
    for (const entry of entries) entry.unsent = [];
    const finals = entries.filter((entry) => entry.answered);
    try {
      await this.results.store(states);
      await this.consumer.ack(finals.map((entry) => entry.claim.id));
    } catch (err) {
      // not acknowledged: the leases run out and the messages come again, finding the same jobs
      if (finals.length > 0) this.log.error({ messages: finals.length, err: errorMessage(err) }, 'could not write Celery results: the messages will be delivered again');
      else this.log.warn({ states: states.length, err: errorMessage(err) }, 'could not write Celery task states');
      for (const entry of finals) this.forget(entry);
      return;
    }
    for (const entry of finals) {
      if (entry.lastState !== 'SUCCESS') this.log.info({ celeryId: entry.call!.taskId, task: entry.call!.task, state: entry.lastState }, 'Celery task answered without success');
      this.forget(entry);
    }
  }
}

function failure(type: string, message: string, where: string, state: 'FAILURE' | 'RETRY' = 'FAILURE'): Outcome {
  const exception: CeleryException = ourException(type, message);
  return { state, exception, traceback: tracebackOf(where, exception) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
