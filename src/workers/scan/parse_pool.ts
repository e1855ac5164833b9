// Tag parsing off the worker's main thread: a pool of threads, each reading the files of one
// extract batch at a time with the scan's own extractor (metadata_extractor.ts) and answering file
// by file. The main thread keeps the walk, the queue and the single database writer; the threads
// take the reads, the parsing and their garbage (half of the main thread's time in a scan).
//
// Threads start on first use and are unref'd while idle (an idle pool never keeps a process
// alive). A thread reads with blocking calls (metadata_extractor.ts, ReadMode). A thread that stops
// answering for `stallMs` (a read hung on a dead mount, a parser looping on a hostile file) or that
// dies is replaced; the files of its batch that were not answered yet are then read again one at a
// time, so only the file that hangs or kills the parser becomes an error row, never its neighbours.
// Size 0: no threads, the files are read in the calling thread (extractFiles).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ExtractedTrack, FileError } from './extracted.js';
import { extractFiles, FILE_TIMEOUT_MS, readInsideRoots, type ExtractOutcome } from './metadata_extractor.js';
import { startShippedThread } from '../../shipped.js';

export interface ParseRequest {
  id: number;
  paths: string[];
  /** the library roots' real paths: a file that resolves outside them is not read */
  roots: readonly string[];
  timeoutMs: number;
  /** the image store's folder: the thread stores each JPEG or PNG front picture it reads there (parse_thread.ts) */
  imagesDir?: string;
}

export type ParseReply =
  /** the thread has loaded its modules and takes requests */
  | { ready: true }
  | { id: number; result: ExtractedTrack | FileError }
  | { id: number; done: true; late: FileError[]; failure?: string };

interface Job {
  paths: readonly string[];
  roots: readonly string[];
  imagesDir?: string;
  results: Map<string, ExtractedTrack | FileError>;
  /** after a stall or a crash: the files left are sent one by one */
  isolate: boolean;
  resolve(outcome: ExtractOutcome): void;
  reject(err: Error): void;
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  requestId: number;
  /** the files of the request in flight */
  sent: string[];
  timer: NodeJS.Timeout | undefined;
  /** the stall clock starts once the thread has loaded (its start-up is not a stall) */
  ready: boolean;
}

/**
 * One thread fewer than the cores: the main thread (walk, queue, writer) keeps one busy. At least
 * one, so that even a single-core machine parses beside its event loop.
 */
export function defaultParseThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** Thread heap: a batch's parse results are small; a small young generation keeps the RSS flat. */
const THREAD_HEAP = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 256 };
const TERMINATE_WAIT_MS = 2_000;

function newThread(): Worker {
  return startShippedThread('workers/scan/parse_thread.ts', THREAD_HEAP);
}

export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number = defaultParseThreads(),
    private readonly stallMs: number = FILE_TIMEOUT_MS + 5_000,
    /** the thread factory (tests put a misbehaving parser here) */
    private readonly startThread: () => Worker = newThread,
  ) {}

  /**
   * Reads the files' tags and audio properties (those that still resolve inside `roots`, the
   * library roots' real paths): in the pool's threads, or here when its size is 0. With
   * `imagesDir`, the threads also store the JPEG and PNG front pictures they read in that image
   * store, so that the covers job links them without reading the files again.
   */
  extract(paths: readonly string[], roots: readonly string[], signal?: AbortSignal, imagesDir?: string): Promise<ExtractOutcome> {
    if (this.size === 0 || paths.length === 0) return extractFiles(paths, signal, FILE_TIMEOUT_MS, readInsideRoots(roots));
    if (this.closed) return Promise.reject(new Error('the parse pool is closed'));
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const job: Job = { paths, roots, results: new Map(), isolate: false, resolve, reject, settled: false, ...(signal ? { signal } : {}), ...(imagesDir ? { imagesDir } : {}) };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.waiting.push(job);
      this.dispatch();
    });
  }

  /** stops every thread; batches still running or waiting fail (their jobs are retried) */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) this.settle(job, new Error('the parse pool is closed'));
    await Promise.all(
      this.slots.splice(0).map(async (slot) => {
        clearTimeout(slot.timer);
        if (slot.job) this.settle(slot.job, new Error('the parse pool is closed'));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([slot.worker.terminate(), new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_WAIT_MS)))]);
        clearTimeout(timer);
      }),
    );
  }

  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closed) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.waiting.shift()!;
      if (job.settled) continue;
      const left = job.paths.filter((p) => !job.results.has(p));
      slot.job = job;
      slot.requestId = this.nextId++;
      slot.sent = job.isolate ? left.slice(0, 1) : left;
      slot.worker.ref();
      this.watch(slot);
      slot.worker.postMessage({ id: slot.requestId, paths: slot.sent, roots: job.roots, timeoutMs: FILE_TIMEOUT_MS, ...(job.imagesDir ? { imagesDir: job.imagesDir } : {}) } satisfies ParseRequest);
    }
  }

  /** (re)arms the stall timer of a busy slot */
  private watch(slot: Slot): void {
    clearTimeout(slot.timer);
    if (!slot.ready) return;
    slot.timer = setTimeout(() => this.lost(slot, `the thread reading this file stopped answering for ${Math.round(this.stallMs / 1000)} s (a hung disk or network mount, or a parser loop)`), this.stallMs);
    slot.timer.unref();
  }

  private spawn(): Slot {
    const slot: Slot = { worker: this.startThread(), job: null, requestId: 0, sent: [], timer: undefined, ready: false };
    slot.worker.unref();
    slot.worker.on('message', (reply: ParseReply) => {
      if ('ready' in reply) {
        slot.ready = true;
        if (slot.job) this.watch(slot);
        return;
      }
      const job = slot.job;
      if (!job || reply.id !== slot.requestId) return; // the answer to an aborted batch
      this.watch(slot);
      if ('result' in reply) {
        job.results.set(reply.result.path, reply.result);
        return;
      }
      for (const error of reply.late) job.results.set(error.path, error);
      this.release(slot);
      if (reply.failure) this.settle(job, new Error(`tag parsing failed: ${reply.failure}`));
      else this.continueOrFinish(job);
    });
    slot.worker.on('error', (err) => this.lost(slot, `the tag parser crashed on this file (${err.message})`));
    slot.worker.on('exit', (code) => this.lost(slot, `the tag parser crashed on this file (thread exit code ${code})`));
    this.slots.push(slot);
    return slot;
  }

  private release(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.job = null;
    slot.sent = [];
    slot.worker.unref();
  }

  /** A thread stalled or died: it is replaced, and what it had not answered is read again, file by file. */
  private lost(slot: Slot, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    clearTimeout(slot.timer);
    const job = slot.job;
    const sent = slot.sent.filter((p) => job && !job.results.has(p));
    slot.job = null;
    void slot.worker.terminate().catch(() => undefined);
    if (job && !job.settled) {
      // a file read alone that still hangs or kills the parser is the culprit
      if (job.isolate && sent.length === 1) job.results.set(sent[0]!, { path: sent[0]!, size: null, mtimeMs: null, stage: 'extract', message: reason });
      job.isolate = true;
      this.continueOrFinish(job);
    }
    if (!this.closed) this.dispatch();
  }

  private continueOrFinish(job: Job): void {
    if (job.settled) return;
    if (!job.paths.every((p) => job.results.has(p))) {
      this.waiting.unshift(job);
      this.dispatch();
      return;
    }
    const items: ExtractedTrack[] = [];
    const errors: FileError[] = [];
    for (const file of job.paths) {
      const result = job.results.get(file)!;
      if ('message' in result) errors.push(result);
      else items.push(result);
    }
    this.settle(job, null, { items, errors });
    this.dispatch();
  }

  private abort(job: Job): void {
    const queued = this.waiting.indexOf(job);
    if (queued >= 0) this.waiting.splice(queued, 1);
    // a batch in flight: its thread finishes the files it started; the answer is ignored
    const slot = this.slots.find((s) => s.job === job);
    if (slot) {
      this.release(slot);
      this.dispatch();
    }
    this.settle(job, job.signal?.reason instanceof Error ? job.signal.reason : new Error('extraction aborted'));
  }

  private settle(job: Job, err: Error | null, outcome?: ExtractOutcome): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err);
    else job.resolve(outcome!);
  }
}
