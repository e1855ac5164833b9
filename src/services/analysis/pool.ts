// A pool of analysis threads, one track at a time per thread, so that decoding and DSP use every
// core and never block the worker's event loop (the queue's heartbeats and the other queues go on
// while tracks are analysed). Threads start on first use, are unref'd while idle (an idle pool
// never keeps a process alive), and a thread that dies is replaced; its track fails (retried by
// the work-state backoff like any other failure).
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FileAnalysis, FileHint } from './analyse_file.js';
import { DecodeError, probeDecoder, type DecoderName } from './decode.js';
import { removeSocketDirAtExit } from './ffmpeg_launcher.js';
import { startShippedThread } from '../../shipped.js';

export type ThreadRequest =
  | { type: 'analyse'; id: number; file: string; hint: FileHint; decoder: DecoderName | 'auto' }
  | { type: 'abort'; id: number };

export type ThreadReply = { id: number; ok: true; result: FileAnalysis } | { id: number; ok: false; message: string; decodeError: boolean };

interface Pending {
  request: Extract<ThreadRequest, { type: 'analyse' }>;
  resolve(result: FileAnalysis): void;
  reject(err: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled?: boolean;
}

interface Slot {
  worker: Worker;
  job: Pending | null;
}

function newThread(): Worker {
  // the threads' decoder sockets live in a folder of this process's (ffmpeg_launcher.ts)
  removeSocketDirAtExit();
  return startShippedThread('services/analysis/thread.ts', THREAD_HEAP);
}

/**
 * A thread's JavaScript heap holds small arrays per track (the PCM and spectra are typed arrays
 * outside it). Left to its defaults, V8 grows each thread's young generation to 48 MB and collects
 * lazily; a small one keeps the RSS flat (docs/reliability.md). The old generation is capped
 * well above what the longest analysed excerpt needs.
 */
const TERMINATE_WAIT_MS = 2_000;

const THREAD_HEAP = { maxYoungGenerationSizeMb: 3, maxOldGenerationSizeMb: 128 };

export class AnalysisPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  /** what 'auto' means here: probed once, when the first analysis asks */
  private decoder: Promise<DecoderName> | undefined;
  private closed = false;

  constructor(readonly size: number = os.availableParallelism()) {}

  analyse(file: string, hint: FileHint, options: { decoder?: DecoderName | 'auto'; signal?: AbortSignal } = {}): Promise<FileAnalysis> {
    if (this.closed) return Promise.reject(new Error('the analysis pool is closed'));
    options.signal?.throwIfAborted();
    if ((options.decoder ?? 'auto') === 'auto') {
      this.decoder ??= probeDecoder();
      return this.decoder.then((decoder) => this.analyse(file, hint, { ...options, decoder }));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        request: { type: 'analyse', id: this.nextId++, file, hint, decoder: options.decoder ?? 'auto' },
        resolve,
        reject,
        ...(options.signal ? { signal: options.signal } : {}),
      };
      if (options.signal) {
        pending.onAbort = () => this.abort(pending);
        options.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.waiting.push(pending);
      this.dispatch();
    });
  }

  /** stops every thread; analyses still running or waiting fail */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.waiting.splice(0)) this.settle(pending, new Error('the analysis pool is closed'));
    await Promise.all(
      this.slots.splice(0).map(async (slot) => {
        if (slot.job) this.settle(slot.job, new Error('the analysis pool is closed'));
        // Seen under SIGTERM in mid-analysis: terminate()'s promise never settled and nothing
        // held the event loop, so the process ended inside close() (exit code 13) before the
        // database was closed. A referenced timer bounds the wait.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([slot.worker.terminate(), new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_WAIT_MS)))]);
        clearTimeout(timer);
      }),
    );
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const pending = this.waiting.shift()!;
      slot.job = pending;
      slot.worker.ref();
      slot.worker.postMessage(pending.request);
    }
  }

  private spawn(): Slot {
    const worker = newThread();
    const slot: Slot = { worker, job: null };
    worker.on('message', (reply: ThreadReply) => {
      const job = slot.job;
      if (!job || job.request.id !== reply.id) return;
      slot.job = null;
      worker.unref();
      if (reply.ok) this.settle(job, null, reply.result);
      else this.settle(job, reply.decodeError ? new DecodeError(reply.message) : new Error(reply.message));
      this.dispatch();
    });
    const lost = (err: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      if (slot.job) this.settle(slot.job, new Error(`the analysis thread stopped: ${err.message}`));
      slot.job = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private abort(pending: Pending): void {
    const queued = this.waiting.indexOf(pending);
    if (queued >= 0) this.waiting.splice(queued, 1);
    // a running analysis: the thread kills its decoder and answers; the slot stays busy until then
    else this.slots.find((s) => s.job === pending)?.worker.postMessage({ type: 'abort', id: pending.request.id } satisfies ThreadRequest);
    this.settle(pending, pending.signal?.reason instanceof Error ? pending.signal.reason : new Error('analysis aborted'));
  }

  /** resolves or rejects once; later calls (the answer to an aborted analysis) do nothing */
  private settle(pending: Pending, err: Error | null, result?: FileAnalysis): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (err) pending.reject(err);
    else pending.resolve(result!);
  }
}
