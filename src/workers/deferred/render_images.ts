// deferred.render_images: the display sizes (WebP and JPEG, 64–1024 px) of the pictures the covers
// stage stored. A scan only checks and links local art; rendering, half of a first scan's CPU when
// it ran inline, happens here: in `run`/`serve` (low priority, on the deferred queue), never in the
// `scan` command. The API renders a picture on its first request meanwhile; the SoniqueBay sink
// sends a cover once it is rendered. `images.rendered_at` says what is done: a crash loses nothing.
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';

export async function renderImages(payload: { limit: number }, ctx: TaskContext): Promise<{ rendered: number; failed: number; more: boolean }> {
  const { db, services } = ctx;
  const hashes = (await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).orderBy('created_at').orderBy('hash').limit(payload.limit).execute()).map((r) => r.hash);
  let rendered = 0;
  let failed = 0;
  for (const hash of hashes) {
    ctx.signal.throwIfAborted();
    try {
      if (await services.images.renderAll(hash)) rendered++;
      else failed++; // not in the store (deleted by hand): the API answers 404 for it, as before
    } catch (err) {
      // a damaged original, a full disk: logged, and never blocking the pictures behind it (the
      // image route renders on request again)
      failed++;
      ctx.log.warn({ hash, reason: err instanceof Error ? err.message : String(err) }, 'picture could not be rendered');
    }
    await db.updateTable('images').set({ rendered_at: Date.now() }).where('hash', '=', hash).execute();
  }
  // pictures stored while this job ran asked for a render job under this job's id (the same oldest
  // picture then): they are looked for again here, not only when the limit was reached
  const more = await queueRenders(db, ctx.enqueue);
  return { rendered, failed, more };
}

/**
 * Queues the rendering when stored pictures wait for their display sizes (the covers tasks call it
 * after each batch): one job per oldest waiting picture, so the batches of a scan queue one job, not
 * one each. True when some wait.
 */
export async function queueRenders(db: Db, enqueue: TaskContext['enqueue']): Promise<boolean> {
  const oldest = await imagesWaiting(db);
  if (oldest) await enqueue('deferred.render_images', {}, { priority: 10, jobId: `render-images-${oldest}` });
  return oldest !== undefined;
}

/** The oldest picture still waiting for its display sizes, or undefined. */
export async function imagesWaiting(db: Db): Promise<string | undefined> {
  return (await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).orderBy('created_at').orderBy('hash').limit(1).executeTakeFirst())?.hash;
}
