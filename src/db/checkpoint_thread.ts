// Entry point of the WAL checkpoint thread (see checkpointer.ts): copies the WAL back into the
// database file whenever it has grown past its limit, on a connection of its own, so that the copy
// and its two fsyncs never run inside a commit on the main thread.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointThreadData } from './checkpointer.js';

const port = parentPort;
if (!port) throw new Error('checkpoint_thread runs as a worker thread');
const { file, walLimitBytes, everyMs } = workerData as CheckpointThreadData;
const conn = new Database(file, { fileMustExist: true });
// never waits for a lock: a busy moment is tried again at the next look
conn.pragma('busy_timeout = 0');

const timer = setInterval(() => {
  let size = 0;
  try {
    size = fs.statSync(`${file}-wal`).size;
  } catch {
    return; // no WAL: nothing written since the last full checkpoint
  }
  if (size < walLimitBytes) return;
  try {
    // PASSIVE: copies what no reader still needs, waits for nobody
    conn.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    if (!String((err as { code?: string }).code).startsWith('SQLITE_BUSY')) throw err;
  }
}, everyMs);

port.on('message', (message: 'close') => {
  if (message !== 'close') return;
  clearInterval(timer);
  conn.close();
  port.close();
});
