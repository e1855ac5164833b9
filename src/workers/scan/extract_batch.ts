// The `metadata.extract_batch` task: a batch of files read in the parse threads (parse_pool.ts),
// then written (or queued for a worker that writes batches). Apart from metadata_extractor.ts, which
// the parse thread loads: the task reads the database, and the thread has no use for Kysely (244 KB
// to compile at its start).
import { realRoots } from '../../services/library/roots.js';
import type { FailureContext, TaskContext } from '../../tasks/define.js';
import { processEntities, type ProcessPayload, type ProcessResult } from './batch_processor.js';
import { isCancelled } from './sessions.js';

export interface ExtractPayload {
  scanId?: string;
  batchNo?: number;
  paths: string[];
}

export interface ExtractResult {
  items: number;
  errors: number;
  skipped?: string;
  /** the batch written by this job (its worker also writes batches), else queued for one that does */
  written?: ProcessResult;
}

/** The task: extract, then write the batch or hand it to the batch queue. */
export async function extractBatch(payload: ExtractPayload, ctx: TaskContext): Promise<ExtractResult> {
  if (await isCancelled(ctx.db, payload.scanId)) return { items: 0, errors: 0, skipped: 'scan cancelled' };
  // in the parse threads; each file checked inside the roots once open (readInsideRoots); the
  // threads store the front pictures they read, which the covers job then links by their hash
  const { items, errors } = await ctx.services.parse.extract(payload.paths, await realRoots(ctx.db), ctx.signal, ctx.services.images.dir);
  if (payload.scanId) await ctx.progress({ scanId: payload.scanId, stage: 'extract', batchNo: payload.batchNo ?? null, items: items.length, errors: errors.length });
  const batch: ProcessPayload = {
    ...(payload.scanId !== undefined ? { scanId: payload.scanId } : {}),
    ...(payload.batchNo !== undefined ? { batchNo: payload.batchNo } : {}),
    items,
    errors,
  };
  const counts = { items: items.length, errors: errors.length };
  // Where this worker is a writer too (the embedded runtime, a worker taking every queue), the batch
  // is written here: the same function the batch job runs, without a ~100 KB payload stored, read
  // back and validated per batch (10k first scan −14 %: docs/benchmarks.md). The extract job only
  // completes once its batch is written, so a crash in between runs it again; the write is idempotent.
  if (ctx.serves?.('batch.process_entities')) {
    try {
      return { ...counts, written: await processEntities(batch, ctx) };
    } catch (err) {
      // the batch queue retries with its own backoff, without parsing the files again
      ctx.log.warn({ err: err instanceof Error ? err.message : String(err), batchNo: payload.batchNo }, 'could not write the batch here: queued for the batch worker');
    }
  }
  await ctx.enqueue('batch.process_entities', batch);
  return counts;
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
