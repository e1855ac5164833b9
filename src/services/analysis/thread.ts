// Entry point of an analysis thread (see pool.ts): analyses one file per request message and
// answers with the result or the error. Decoding and all the DSP run here, off the main thread.
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { analyseFile } from './analyse_file.js';
import { DecodeError } from './decode.js';
import type { ThreadReply, ThreadRequest } from './pool.js';

/** the nice value of the analysis threads (and their decoders): 10, what `nice` gives by default */
const ANALYSIS_NICE = 10;

const port = parentPort;
if (!port) throw new Error('thread.ts runs as a worker thread of the analysis pool');
lowerPriority();
const running = new Map<number, AbortController>();
// the pool sends a thread one track at a time, so one mono buffer serves them all
const scratch = { data: new Float32Array(0) };

port.on('message', (message: ThreadRequest) => {
  if (message.type === 'abort') {
    running.get(message.id)?.abort(new Error('analysis aborted'));
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  analyseFile(message.file, message.hint, { decoder: message.decoder, signal: controller.signal, scratch })
    .then((result): ThreadReply => ({ id: message.id, ok: true, result }))
    .catch((err: unknown): ThreadReply => ({
      id: message.id,
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      decodeError: err instanceof DecodeError,
    }))
    .then((reply) => {
      running.delete(message.id);
      port.postMessage(reply);
    });
});

/**
 * Background work yields the cores to what a person waits for (the API, a scan's writer): on Linux
 * the nice value is per thread, so this thread and the ffmpeg processes it starts (they inherit
 * it) run at nice ANALYSIS_NICE while the main thread stays where it was; alone on the machine,
 * they still get every idle cycle. Elsewhere the call would lower the whole process: not made.
 */
function lowerPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    os.setPriority(0, Math.max(os.getPriority(0), ANALYSIS_NICE));
  } catch {
    // a container may forbid it; analysis runs at the process's priority then
  }
}
