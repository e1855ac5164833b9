// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit that
// takes the WAL past 1,000 pages: a copy of 4 MB into the database file and two fsyncs, on the
// thread that committed. On a 10,000-file first scan that was ~0.45 s of the main thread's commits,
// and with `serve --embedded` on a million tracks, single requests waited ~1 s behind one.
// The library's connections keep an automatic checkpoint only as a safety net, far later
// (SAFETY_NET_PAGES), and a thread of their own checkpoints at the usual size.
import type { Worker } from 'node:worker_threads';
import { startShippedThread } from '../shipped.js';
import type { SqliteConnection } from './sqlite.js';

export interface CheckpointThreadData {
  file: string;
  walLimitBytes: number;
  everyMs: number;
}

/** the connections' own automatic checkpoint: only if the thread falls behind or is gone (~40 MB) */
export const SAFETY_NET_PAGES = 10_000;
/** the thread's checkpoint size: SQLite's default 1,000 pages of 4 KiB */
const WAL_LIMIT_BYTES = 1_000 * 4_096;
/** short commands (an unchanged rescan takes ~0.5 s) end before the thread would be worth its start */
const START_AFTER_MS = 1_000;
const LOOK_EVERY_MS = 50;

/** The library's connections leave checkpoints to the thread; call before their first write. */
export function leaveCheckpointsToThread(conn: SqliteConnection): void {
  conn.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
}

export class Checkpointer {
  private thread: Worker | null = null;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly file: string) {
    this.timer = setTimeout(() => this.start(), START_AFTER_MS);
    this.timer.unref();
  }

  private start(): void {
    if (this.stopped) return;
    const data: CheckpointThreadData = { file: this.file, walLimitBytes: WAL_LIMIT_BYTES, everyMs: LOOK_EVERY_MS };
    const thread = startShippedThread('db/checkpoint_thread.ts', { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 }, data);
    // a thread that failed leaves the connections' safety net to bound the WAL
    thread.on('error', () => undefined);
    thread.unref();
    this.thread = thread;
  }

  /** stops the thread (its connection closed) before the library's own connection closes */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const thread = this.thread;
    this.thread = null;
    if (!thread) return;
    const exited = new Promise((resolve) => thread.once('exit', resolve));
    thread.ref(); // the process waits for it to close its connection
    thread.postMessage('close');
    const late = setTimeout(() => void thread.terminate(), 2_000);
    await exited;
    clearTimeout(late);
  }
}
