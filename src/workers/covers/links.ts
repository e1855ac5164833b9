// Linking stored images to tracks, albums and artists, and finding an entity's image for display.
import fs from 'node:fs';
import { OutsideRootsError } from '../../services/library/roots.js';
import path from 'node:path';
import type { CoverTable, Db } from '../../db/types.js';
import type { ImageFormat, ImageStore, StoredImage } from '../../services/images/store.js';

export type CoverEntity = CoverTable['entity_type'];

/** Which source wins when an entity has several: the first in each list. */
export const SOURCE_ORDER: Record<CoverEntity, readonly string[]> = {
  track: ['embedded'],
  album: ['embedded', 'folder', 'coverartarchive'],
  artist: ['folder', 'deezer', 'fanarttv', 'lastfm'],
};

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/** Stores the bytes once, then links the entity to them for this source. */
export async function saveImage(db: Db, store: ImageStore, bytes: Buffer, entity: CoverEntity, id: number, source: string): Promise<StoredImage> {
  const stored = await store.put(bytes);
  await linkImage(db, stored, entity, id, source);
  return stored;
}

export async function linkImage(db: Db, stored: Omit<StoredImage, 'created'>, entity: CoverEntity, id: number, source: string): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('images')
    .values({ hash: stored.hash, mime: stored.mime, width: stored.width, height: stored.height, bytes: stored.bytes, created_at: now, rendered_at: null })
    .onConflict((oc) => oc.column('hash').doNothing())
    .execute();
  await linkCover(db, stored, entity, id, source);
}

/** linkImage for a picture whose `images` row this task already wrote */
export async function linkCover(db: Db, stored: Omit<StoredImage, 'created'>, entity: CoverEntity, id: number, source: string): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('covers')
    .values({ entity_type: entity, entity_id: id, source, hash: stored.hash, mime: stored.mime, width: stored.width, height: stored.height, created_at: now })
    .onConflict((oc) => oc.columns(['entity_type', 'entity_id', 'source']).doUpdateSet({ hash: stored.hash, mime: stored.mime, width: stored.width, height: stored.height, created_at: now }))
    .execute();
}

export async function hasCover(db: Db, entity: CoverEntity, id: number): Promise<boolean> {
  return (await db.selectFrom('covers').select('id').where('entity_type', '=', entity).where('entity_id', '=', id).executeTakeFirst()) !== undefined;
}

export interface BestCover {
  hash: string;
  source: string;
  width: number | null;
  height: number | null;
}

/** Each entity's image from its best source (SOURCE_ORDER): one per entity, however many sources linked one. */
export async function bestCovers(db: Db, entity: CoverEntity, ids: readonly number[]): Promise<Map<number, BestCover>> {
  const best = new Map<number, BestCover>();
  const order = SOURCE_ORDER[entity];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom('covers').select(['entity_id', 'hash', 'source', 'width', 'height']).where('entity_type', '=', entity).where('entity_id', 'in', ids.slice(i, i + 500)).execute();
    for (const { entity_id: id, ...row } of rows) {
      const held = best.get(id);
      if (!held || rank(order, row.source) < rank(order, held.source)) best.set(id, row);
    }
  }
  return best;
}

/**
 * The file of an entity's image at a display size (the SoniqueBay sink sends it): the best source
 * it has, at the smallest rendered size that covers `size`. Null when it has none, or when its
 * sizes are not rendered yet (the sink sends it once deferred.render_images has rendered them).
 */
export async function imageFor(db: Db, store: ImageStore, entity: CoverEntity, id: number, size: number, format: ImageFormat): Promise<{ path: string; hash: string; source: string; mime: string } | null> {
  const best = (await bestCovers(db, entity, [id])).get(id);
  if (!best) return null;
  const file = store.pathFor(best.hash, size, format);
  // not rendered yet (deferred.render_images does it after the scan): none for now
  if (!fs.existsSync(file)) return null;
  return { path: file, hash: best.hash, source: best.source, mime: format === 'jpeg' ? 'image/jpeg' : 'image/webp' };
}

function rank(order: readonly string[], source: string): number {
  const at = order.indexOf(source);
  return at < 0 ? order.length : at;
}

/**
 * For a folder image read with readFileInsideRoots: one that resolves outside the roots, or is gone
 * since it was found, counts as no image; any other failure (unreadable, I/O error) is thrown, so
 * that the work is retried and the reason kept.
 */
export function outsideAsNone(err: unknown): null {
  if (err instanceof OutsideRootsError || (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw err;
}

/** The first image file in `dir` whose name (any case) is one of `names`, in the order of `names`. */
export function findImageFile(dir: string, names: readonly string[]): string | null {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    const wanted = name.toLowerCase();
    const match = entries.find((e) => {
      const ext = path.extname(e).toLowerCase();
      return IMAGE_EXTENSIONS.includes(ext) && path.basename(e, path.extname(e)).toLowerCase() === wanted;
    });
    if (match) return path.join(dir, match);
  }
  return null;
}
