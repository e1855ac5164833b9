// The `metadata.extract_batch` task: a batch of files read in the parse threads (parse_pool.ts),
// then handed to the single writer. Apart from metadata_extractor.ts, which the parse thread loads:
// the task reads the database, and the thread has no use for Kysely (244 KB to compile at its start).
import { realRoots } from '../../services/library/roots.js';
import type { FailureContext, TaskContext } from '../../tasks/define.js';
import { isCancelled } from './sessions.js';

export interface ExtractPayload {
  scanId?: string;
  batchNo?: number;
  paths: string[];
}

/** The task: extract, then hand the batch to the single writer. */
export async function extractBatch(payload: ExtractPayload, ctx: TaskContext): Promise<{ items: number; errors: number; skipped?: string }> {
  if (await isCancelled(ctx.db, payload.scanId)) return { items: 0, errors: 0, skipped: 'scan cancelled' };
  // in the parse threads; each file checked inside the roots once open (readInsideRoots); the
  // threads store the front pictures they read, which the covers job then links by their hash
  const { items, errors } = await ctx.services.parse.extract(payload.paths, await realRoots(ctx.db), ctx.signal, ctx.services.images.dir);
  await ctx.enqueue('batch.process_entities', {
    ...(payload.scanId !== undefined ? { scanId: payload.scanId } : {}),
    ...(payload.batchNo !== undefined ? { batchNo: payload.batchNo } : {}),
    items,
    errors,
  });
  if (payload.scanId) await ctx.progress({ scanId: payload.scanId, stage: 'extract', batchNo: payload.batchNo ?? null, items: items.length, errors: errors.length });
  return { items: items.length, errors: errors.length };
}

/** When the batch failed for good, each of its files still ends as an error row (and the scan can complete). */
export async function extractBatchFailed(payload: ExtractPayload, ctx: FailureContext, error: string): Promise<void> {
  await ctx.enqueue('batch.process_entities', {
    ...(payload.scanId !== undefined ? { scanId: payload.scanId } : {}),
    ...(payload.batchNo !== undefined ? { batchNo: payload.batchNo } : {}),
    items: [],
    errors: payload.paths.map((p) => ({ path: p, size: null, mtimeMs: null, stage: 'extract', message: `extraction batch failed: ${error}`, transient: true })),
  });
}
