// deferred.render_images: the display sizes (WebP and JPEG, 64–1024 px) of the pictures the covers
// stage stored. A scan only checks and links local art; rendering, half of a first scan's CPU when
// it ran inline, happens here, in `run`/`serve`, after the scan (the API renders a picture on its
// first request meanwhile). `images.rendered_at` says what is done, so a crash loses nothing.
import { CorruptImageError } from '../../services/images/store.js';
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';

export async function renderImages(payload: { limit: number }, ctx: TaskContext): Promise<{ rendered: number; failed: number; more: boolean }> {
  const { db, services } = ctx;
  const hashes = (await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).orderBy('created_at').limit(payload.limit).execute()).map((r) => r.hash);
  let rendered = 0;
  let failed = 0;
  for (const hash of hashes) {
    ctx.signal.throwIfAborted();
    try {
      if (await services.images.renderAll(hash)) rendered++;
      else failed++; // not in the store (deleted by hand): the API answers 404 for it, as before
    } catch (err) {
      if (!(err instanceof CorruptImageError)) throw err;
      failed++;
      ctx.log.warn({ hash, reason: err.message }, 'picture could not be rendered');
    }
    // done either way: a damaged original is not retried at every tick
    await db.updateTable('images').set({ rendered_at: Date.now() }).where('hash', '=', hash).execute();
  }
  const more = hashes.length === payload.limit;
  if (more) await ctx.enqueue('deferred.render_images', { limit: payload.limit }, { priority: 10 });
  return { rendered, failed, more };
}

/** Queues the rendering when stored pictures wait for their display sizes (called by the covers tasks). */
export async function queueRenders(db: Db, enqueue: TaskContext['enqueue']): Promise<void> {
  const waiting = await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).limit(1).executeTakeFirst();
  if (waiting) await enqueue('deferred.render_images', {}, { priority: 10 });
}
