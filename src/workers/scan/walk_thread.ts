// Entry point of the walk thread (walk_prefetch.ts): walks one root with the scan's own walk and
// sends its folders to the main thread in groups, never more than IN_FLIGHT groups ahead of what
// the main thread has taken (memory stays bounded on a library of a million files), then ends.
import { parentPort, workerData } from 'node:worker_threads';
import { walkFolders, type FolderListing } from './walk.js';
import type { WalkCredit, WalkMessage, WalkStart } from './walk_prefetch.js';

const port = parentPort;
if (!port) throw new Error('walk_thread runs as a worker thread (walk_prefetch.ts)');

/** folders per message */
const GROUP = 64;
/** groups sent and not yet taken: ~2,000 folders, a few MB at most */
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

async function walk({ root, realRoot }: WalkStart): Promise<WalkMessage> {
  try {
    let group: FolderListing[] = [];
    for await (const listing of walkFolders(root, realRoot)) {
      group.push(listing);
      if (group.length >= GROUP) {
        await send({ listings: group });
        group = [];
      }
    }
    if (group.length > 0) await send({ listings: group });
    return { done: true };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

void walk(workerData as WalkStart).then((end) => {
  port.postMessage(end);
  port.close();
});
