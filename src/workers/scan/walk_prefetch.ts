// `soniquebay scan <dir>` starts walking <dir> in a thread before it loads the rest of the program:
// Node compiles and links the command's modules for ~100 ms before any of them runs, and the walk
// (a readdir per folder, a stat per file) is most of an unchanged rescan. The scan's discovery job,
// when this process runs it, takes the folders from that thread (takePrefetchedWalk) instead of
// walking again, and walks on by itself from where the thread handed over (the thread walks the
// first PREFETCH_FOLDERS folders: a whole library of tens of thousands of tracks, the start of a
// bigger one); a walk nobody takes is stopped when the command ends (dropPrefetchedWalk).
// Only reads happen early: the root checks, the comparison with the library and every write stay
// in the discovery job, which walks by itself when there is no prefetched walk of its root.
import fs from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { startShippedThread } from '../../shipped.js';
import { walkFolders, type FolderListing, type WalkState } from './walk.js';

export interface WalkStart {
  root: string;
  realRoot: string;
  /** folders the thread walks before it hands the rest over */
  maxFolders: number;
}
/** a WalkState as a message carries it */
type WalkRest = { stack: WalkState['stack']; visitedHidden: string[] };
/** thread → main: a group of folders, the end of the walk, where it stopped walking, or why it failed */
export type WalkMessage = { listings: FolderListing[] } | { done: true } | { rest: WalkRest } | { error: string };
/** main → thread: groups taken, so the thread may send as many more */
export interface WalkCredit {
  credit: number;
}

/** the walk holds a stack of folder paths and one folder's entries, which may be many: the parse thread's cap */
const WALK_THREAD_HEAP = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 256 };
/** ~2,000 folders make 10,000 tracks in the bench's library; 8,192 is ~40,000-80,000 tracks */
const PREFETCH_FOLDERS = 8_192;

interface Prefetch extends Omit<WalkStart, 'maxFolders'> {
  worker: Worker;
  groups: FolderListing[][];
  /** set once the thread has said it is done, handed over or failed, or has died */
  end?: { error?: string; rest?: WalkRest };
  wake?: () => void;
}

let prefetch: Prefetch | undefined;

/** Starts walking `root` (an absolute path) in a thread; a root that cannot be resolved is left to the scan to report. */
export function prefetchWalk(root: string, maxFolders = PREFETCH_FOLDERS): void {
  dropPrefetchedWalk();
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    return;
  }
  const worker = startShippedThread('workers/scan/walk_thread.ts', WALK_THREAD_HEAP, { root, realRoot, maxFolders } satisfies WalkStart);
  const p: Prefetch = { root, realRoot, worker, groups: [] };
  const finish = (end: { error?: string; rest?: WalkRest }) => {
    p.end ??= end;
    p.wake?.();
  };
  worker.on('message', (message: WalkMessage) => {
    if (!('listings' in message)) return finish('error' in message ? { error: message.error } : 'rest' in message ? { rest: message.rest } : {});
    p.groups.push(message.listings);
    p.wake?.();
  });
  worker.on('error', (err) => finish({ error: err.message }));
  worker.on('exit', (code) => finish({ error: `the walk thread stopped (exit code ${code})` }));
  // never what keeps the process alive while nobody waits for it
  worker.unref();
  prefetch = p;
}

/**
 * The folders of the walk prefetched for this root (same path, same resolved path), taken once;
 * undefined when there is none. A walk that fails part-way fails the discovery job, whose retry
 * walks by itself.
 */
export function takePrefetchedWalk(root: string, realRoot: string): AsyncGenerator<FolderListing> | undefined {
  const p = prefetch;
  if (!p || p.root !== root || p.realRoot !== realRoot) return undefined;
  prefetch = undefined;
  return folders(p);
}

async function* folders(p: Prefetch): AsyncGenerator<FolderListing> {
  p.worker.ref();
  try {
    for (;;) {
      const group = p.groups.shift();
      if (group) {
        p.worker.postMessage({ credit: 1 } satisfies WalkCredit);
        yield* group;
      } else if (p.end) {
        if (p.end.error) throw new Error(`the folder walk failed: ${p.end.error}`);
        const rest = p.end.rest;
        if (rest) yield* walkFolders(p.root, p.realRoot, { stack: rest.stack, visitedHidden: new Set(rest.visitedHidden) });
        return;
      } else {
        await new Promise<void>((resolve) => (p.wake = resolve));
        p.wake = undefined;
      }
    }
  } finally {
    // done, failed, or the job stopped taking folders (cancelled, aborted)
    void p.worker.terminate().catch(() => undefined);
  }
}

/** Stops a prefetched walk that no discovery job took (another process ran it, the scan was already running). */
export function dropPrefetchedWalk(): void {
  if (!prefetch) return;
  void prefetch.worker.terminate().catch(() => undefined);
  prefetch = undefined;
}
