// A scan's batches ask for a run of the SoniqueBay sink; this is all of the sink they load (the
// sink and its task stay out of a `scan` command's start).
import type { TaskContext } from '../../tasks/define.js';
import { sinkSettings } from './settings.js';

/** one sync at most per this window: every batch asks for one, the window gathers them */
export const SYNC_DEBOUNCE_MS = 2_000;

/** Asks for a sink run soon (after a batch was written): one job per debounce window. */
export async function requestSync(ctx: Pick<TaskContext, 'enqueue' | 'log'>, delayMs = SYNC_DEBOUNCE_MS): Promise<void> {
  if (!sinkSettings()) return;
  const window = Math.floor((Date.now() + delayMs) / SYNC_DEBOUNCE_MS);
  await ctx.enqueue('soniquebay.sync', {}, { jobId: `sync-${window}`, delayMs }).catch((err: unknown) => {
    // the periodic catch-up mirrors it anyway
    ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'SoniqueBay sync not queued');
  });
}
