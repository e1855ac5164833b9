// Entry point of the walk thread (walk_prefetch.ts): walks one root with the scan's own walk and
// sends its folders to the main thread in groups, never more than IN_FLIGHT groups ahead of what
// the main thread has taken. After `maxFolders` folders it hands the rest of the walk over (where
// it stands: walk.ts's WalkState) and ends: a thread costs ~16 MiB of RSS while it lives, and on a
// big library the main thread walks the rest as the scan goes.
import { parentPort, workerData } from 'node:worker_threads';
import { walkFolders, walkStart, type FolderListing } from './walk.js';
import type { WalkCredit, WalkMessage, WalkStart } from './walk_prefetch.js';

const port = parentPort;
if (!port) throw new Error('walk_thread runs as a worker thread (walk_prefetch.ts)');

/** folders per message */
const GROUP = 64;
/** groups sent and not yet taken */
const IN_FLIGHT = 32;

let credit = IN_FLIGHT;
let wake: (() => void) | undefined;
port.on('message', (message: WalkCredit) => {
  credit += message.credit;
  wake?.();
});

async function send(message: WalkMessage): Promise<void> {
  while (credit <= 0) await new Promise<void>((resolve) => (wake = resolve));
  wake = undefined;
  credit--;
  port!.postMessage(message);
}

async function walk({ root, realRoot, maxFolders }: WalkStart): Promise<WalkMessage> {
  try {
    const state = walkStart(root, realRoot);
    let group: FolderListing[] = [];
    let folders = 0;
    for await (const listing of walkFolders(root, realRoot, state)) {
      group.push(listing);
      if (group.length >= GROUP) {
        await send({ listings: group });
        group = [];
      }
      // the state now holds this folder's sub-folders: the rest of the walk
      if (++folders >= maxFolders) break;
    }
    if (group.length > 0) await send({ listings: group });
    return state.stack.length > 0 ? { rest: { stack: state.stack, visitedHidden: [...state.visitedHidden] } } : { done: true };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

void walk(workerData as WalkStart).then((end) => {
  port.postMessage(end);
  port.close();
});
