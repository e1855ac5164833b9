// Linking stored images to tracks, albums and artists, and finding an entity's image for display.
import fs from 'node:fs';
import type { Insertable } from 'kysely';
import { OutsideRootsError } from '../../services/library/roots.js';
import path from 'node:path';
import { reusedInsert } from '../../db/reused_statements.js';
import type { CoverTable, Db, ImageTable } from '../../db/types.js';
import { WorkMarks } from '../../services/work_state.js';
import type { ImageFormat, ImageStore, StoredImage } from '../../services/images/store.js';

export type CoverEntity = CoverTable['entity_type'];

/** Which source wins when an entity has several: the first in each list. */
export const SOURCE_ORDER: Record<CoverEntity, readonly string[]> = {
  track: ['embedded'],
  album: ['embedded', 'folder', 'coverartarchive'],
  artist: ['folder', 'deezer', 'fanarttv', 'lastfm'],
};

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/**
 * The `images` and `covers` rows a covers job writes, gathered and written at its end in one
 * transaction with its work marks (withCoverWrites): one row at a time, each was a commit of its own
 * (~5,000 in a 10k-file scan). A crash before the write loses nothing the job's retry does not redo.
 */
export class ImageLinks {
  private readonly images = new Map<string, Insertable<ImageTable>>();
  private readonly covers = new Map<string, Insertable<CoverTable>>();

  /** Stores the bytes once (the image store writes its file now), then links the entity to them for this source. */
  async save(store: ImageStore, bytes: Buffer, entity: CoverEntity, id: number, source: string): Promise<StoredImage> {
    const stored = await store.put(bytes);
    this.link(stored, entity, id, source);
    return stored;
  }

  /** links an entity to a stored picture (its `images` row written too) */
  link(stored: Omit<StoredImage, 'created'>, entity: CoverEntity, id: number, source: string): void {
    const now = Date.now();
    if (!this.images.has(stored.hash)) this.images.set(stored.hash, { hash: stored.hash, mime: stored.mime, width: stored.width, height: stored.height, bytes: stored.bytes, created_at: now, rendered_at: null });
    // one row per key: PostgreSQL refuses a statement that updates the same row twice
    this.covers.set(`${entity}\0${id}\0${source}`, { entity_type: entity, entity_id: id, source, hash: stored.hash, mime: stored.mime, width: stored.width, height: stored.height, created_at: now });
  }

  /** writes the gathered rows; call it inside a transaction (withCoverWrites) */
  async write(db: Db): Promise<void> {
    const images = [...this.images.values()];
    const covers = [...this.covers.values()];
    this.images.clear();
    this.covers.clear();
    await insertImages(db, images, {});
    await upsertCovers(db, covers, {});
  }
}

// compiled once per shape (db/reused_statements.ts)
const insertImages = reusedInsert((db, rows) => db.insertInto('images').values(rows as never).onConflict((oc) => oc.column('hash').doNothing()), 200);
const upsertCovers = reusedInsert(
  (db, rows) =>
    db
      .insertInto('covers')
      .values(rows as never)
      .onConflict((oc) =>
        oc.columns(['entity_type', 'entity_id', 'source']).doUpdateSet((eb) => ({
          hash: eb.ref('excluded.hash'),
          mime: eb.ref('excluded.mime'),
          width: eb.ref('excluded.width'),
          height: eb.ref('excluded.height'),
          created_at: eb.ref('excluded.created_at'),
        })),
      ),
  200,
);

/** What a covers job writes at its end: its `images`/`covers` rows and its work marks. */
export interface CoverWrites {
  links: ImageLinks;
  marks: WorkMarks;
}

/**
 * Runs a covers job's work with its writes gathered, then writes them in one transaction, also when
 * the work throws (what was done is kept; the job's retry redoes the rest).
 */
export async function withCoverWrites<T>(db: Db, work: (writes: CoverWrites) => Promise<T>): Promise<T> {
  const writes: CoverWrites = { links: new ImageLinks(), marks: new WorkMarks() };
  try {
    return await work(writes);
  } finally {
    await db.transaction().execute(async (tx) => {
      await writes.links.write(tx);
      await writes.marks.write(tx);
    });
  }
}

/** ids per query in the covers jobs' batched lookups (a job holds up to 10,000) */
export const LOOKUP_CHUNK = 500;

/** Which of `ids` already have an image linked, from any source: one query per LOOKUP_CHUNK ids. */
export async function idsWithCover(db: Db, entity: CoverEntity, ids: readonly number[]): Promise<Set<number>> {
  const covered = new Set<number>();
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    const rows = await db.selectFrom('covers').select('entity_id').distinct().where('entity_type', '=', entity).where('entity_id', 'in', ids.slice(i, i + LOOKUP_CHUNK)).execute();
    for (const row of rows) covered.add(row.entity_id);
  }
  return covered;
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
