// scan.discovery: walks a library root, skips folders whose fingerprint has not changed and files
// whose size and mtime have not changed, marks vanished files (missing, not deleted), and queues the rest for extraction
// in batches. The scan completes when the last queued batch is written (see sessions.ts).
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { PermanentTaskError } from '../../broker/errors.js';
import { reusedQuery } from '../../db/reused_statements.js';
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';
import { checkRoot, recordDevice } from './root_check.js';
import { addCounts, ensureRoot, failScan, finalizeIfDone, isCancelled, startScan } from './sessions.js';
import { walkFolders, type FolderListing } from './walk.js';
import { takePrefetchedWalk } from './walk_prefetch.js';
import { requestSync } from '../../services/soniquebay/handlers.js';

export const EXTRACT_BATCH_SIZE = 200;
/**
 * A scan's first batches are smaller (25, 50, 100, then 200 files): the writer starts on the first
 * 25 files while the parse threads read the next ones, instead of waiting idle for 200 (on 309
 * full-length tracks it waited 0.7 s of a 1.8 s scan). Later batches are full: fewer jobs and
 * transactions per file.
 */
const FIRST_BATCH_SIZE = 25;

function batchSize(queuedBefore: number): number {
  return Math.min(EXTRACT_BATCH_SIZE, FIRST_BATCH_SIZE * 2 ** queuedBefore);
}
const PROGRESS_EVERY_MS = 250;
const CANCEL_CHECK_EVERY = 200;
const YIELD_EVERY_FOLDERS = 8;

export interface DiscoveryPayload {
  root: string;
  scanId?: string;
  full?: boolean;
}

export interface DiscoveryResult {
  scanId: string;
  state: 'completed' | 'running' | 'already-running' | 'cancelled' | 'finished';
  discovered: number;
  unchanged: number;
  queued: number;
  folders: number;
}

/** Fingerprint of a folder: its audio files' names, sizes and mtimes, and its sub-folder names. */
export function folderFingerprint(listing: FolderListing): string {
  // one string, one update: the same bytes as an update per entry, for a fraction of the calls
  let text = '';
  for (const file of listing.files) text += `f\0${file.name}\0${file.size}\0${file.mtimeMs}\n`;
  for (const dir of listing.subdirs) text += `d\0${dir}\n`;
  return createHash('sha1').update(text).digest('hex');
}

export async function discovery(payload: DiscoveryPayload, ctx: TaskContext): Promise<DiscoveryResult> {
  const db = ctx.db;
  const rootPath = path.resolve(payload.root);
  const root = await ensureRoot(db, rootPath);
  const start = await startScan(db, { rootId: root.id, rootPath, scanId: payload.scanId ?? randomUUID(), full: payload.full === true });
  const scanId = start.scan.id;
  const empty = { discovered: 0, unchanged: 0, queued: 0, folders: 0 };
  if (start.state === 'already-running' || start.state === 'finished') return { scanId, state: start.state, ...empty };
  // an absent, unmounted or emptied root is not scanned: walking it would make every track missing
  const check = await checkRoot(db, rootPath);
  if (!check.ok) {
    await failScan(db, scanId, check.reason);
    throw new PermanentTaskError(check.reason);
  }
  await recordDevice(db, root.id, check.device);
  const realRoot = check.realRoot;
  const full = start.scan.full === 1;

  const counts = { discovered: 0, unchanged: 0, queued: 0, folders: 0 };
  let batch: string[] = [];
  let batchNo = start.scan.batches_total;
  const firstBatchNo = batchNo;
  let lastProgress = 0;
  // the unchanged folders the walk reached, by id: known in memory, not written (see forgetVanishedFolders)
  const seenFolders = new Set<number>();
  const skipped: Record<string, number> = {};

  // folder rows of changed folders, written together (one commit per 200 instead of one each),
  // always before the extract batch that holds their files is queued
  const folderRows: FolderRow[] = [];
  const writeFolders = async () => {
    if (folderRows.length > 0) await upsertFolders(db, folderRows.splice(0));
  };
  const flush = async () => {
    if (batch.length === 0) return;
    await writeFolders();
    const paths = batch;
    batch = [];
    batchNo++;
    // counted before it is queued: the scan cannot complete while this batch is in flight
    await addCounts(db, scanId, { batches_total: 1, queued: paths.length });
    await ctx.enqueue('metadata.extract_batch', { scanId, batchNo, paths });
  };
  const report = async (force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    await ctx.progress({ scanId, stage: 'discovery', ...counts });
  };

  // folders come in groups whose known fingerprints are read in one query (one query per folder
  // was half of a million-file unchanged rescan)
  // the scan command may have started this walk already, in a thread (walk_prefetch.ts)
  const folders = takePrefetchedWalk(rootPath, realRoot) ?? walkFolders(rootPath, realRoot);
  for await (const group of inGroups(folders, FOLDERS_PER_LOOKUP)) {
    const known = await knownFolders(db, group.filter((l) => !l.error).map((l) => l.dir));
    for (const listing of group) {
      ctx.signal.throwIfAborted();
      counts.folders++;
      for (const [ext, n] of Object.entries(listing.skipped)) skipped[ext] = (skipped[ext] ?? 0) + n;
      if (counts.folders % CANCEL_CHECK_EVERY === 0 && (await isCancelled(db, scanId))) {
        return { scanId, state: 'cancelled', ...counts };
      }
      if (listing.error) {
        await recordFolderError(db, root.id, scanId, listing);
        continue;
      }
      const toRead = await compareFolder(db, root.id, scanId, listing, known.get(listing.dir), full, seenFolders, folderRows);
      counts.discovered += listing.files.length + listing.unreadable.length;
      counts.unchanged += listing.files.length + listing.unreadable.length - toRead.length;
      for (const file of toRead) {
        batch.push(file);
        if (batch.length >= batchSize(batchNo - firstBatchNo)) await flush();
      }
      if (folderRows.length >= FOLDER_ROWS_PER_WRITE) await writeFolders();
      await report();
      // the walk and SQLite calls are synchronous underneath: let queued extract batches start
      if (counts.folders % YIELD_EVERY_FOLDERS === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await flush();
  await writeFolders();
  await forgetVanishedFolders(db, root.id, scanId, seenFolders);

  // set, not added: a discovery re-run after a crash walks the whole root again
  await db.updateTable('scans').set({ discovered: counts.discovered, unchanged: counts.unchanged, walk_done: 1, skipped: JSON.stringify(skipped), updated_at: Date.now() }).where('id', '=', scanId).execute();
  await report(true);
  const completed = await finalizeIfDone(db, scanId);
  if (completed) await requestSync(ctx); // nothing to read: the SoniqueBay sink closes the scan now
  return { scanId, state: completed ? 'completed' : 'running', ...counts };
}

/**
 * Decides what to read in one folder. An unchanged fingerprint skips the folder outright; otherwise
 * each file is compared by size and mtime with its track (or its error row), and tracks whose file
 * is gone are marked: they become missing when the scan completes (unless found moved).
 */
async function compareFolder(db: Db, rootId: number, scanId: string, listing: FolderListing, folder: KnownFolder | undefined, full: boolean, seen: Set<number>, folderRows: FolderRow[]): Promise<string[]> {
  const fingerprint = folderFingerprint(listing);
  if (!full && folder && folder.fingerprint === fingerprint && listing.unreadable.length === 0) {
    seen.add(folder.id);
    return [];
  }
  const [tracks, errors] = await Promise.all([tracksIn(db, { folder: listing.dir }), errorsIn(db, { folder: listing.dir })]);
  const known = new Map<string, { size: number | null; mtime: number | null }>();
  for (const e of errors) known.set(e.path, { size: e.file_size, mtime: e.mtime_ms });
  for (const t of tracks) known.set(t.path, { size: t.file_size, mtime: t.mtime_ms });
  // an error row without size is a transient failure (vanished, I/O error, timeout): read it again
  const retry = new Set(errors.filter((e) => e.file_size === null).map((e) => e.path));

  const present = new Set<string>();
  const toRead: string[] = [];
  for (const file of listing.files) {
    present.add(file.path);
    const before = known.get(file.path);
    if (full || !before || retry.has(file.path) || before.size !== file.size || before.mtime !== file.mtimeMs) toRead.push(file.path);
  }
  for (const file of listing.unreadable) {
    present.add(file.path);
    toRead.push(file.path); // extraction turns it into an error row with the reason
  }
  // a missing track whose file is back at its path is present again, with its id and everything computed
  const back = tracks.filter((t) => present.has(t.path) && (t.missing_since !== null || t.missing_scan_id !== null)).map((t) => t.id);
  for (let i = 0; i < back.length; i += 500) {
    await db.updateTable('tracks').set({ missing_since: null, missing_scan_id: null }).where('id', 'in', back.slice(i, i + 500)).execute();
  }
  const goneTracks = tracks.filter((t) => !present.has(t.path) && t.missing_since === null).map((t) => t.id);
  const goneErrors = errors.filter((e) => !present.has(e.path)).map((e) => e.path);
  for (let i = 0; i < goneTracks.length; i += 500) {
    await db.updateTable('tracks').set({ missing_scan_id: scanId }).where('id', 'in', goneTracks.slice(i, i + 500)).execute();
  }
  for (let i = 0; i < goneErrors.length; i += 500) {
    await db.deleteFrom('scan_errors').where('path', 'in', goneErrors.slice(i, i + 500)).execute();
  }
  folderRows.push({ root_id: rootId, path: listing.dir, fingerprint: null, pending_fingerprint: fingerprint, pending_scan_id: scanId, last_seen_scan_id: scanId });
  return toRead;
}

// a folder's tracks and error rows, read for every folder that changed (compiled once: db/reused_statements.ts)
const tracksIn = reusedQuery((db, { folder }: { folder: string }) => db.selectFrom('tracks').select(['id', 'path', 'file_size', 'mtime_ms', 'missing_since', 'missing_scan_id']).where('folder', '=', folder));
const errorsIn = reusedQuery((db, { folder }: { folder: string }) => db.selectFrom('scan_errors').select(['path', 'file_size', 'mtime_ms']).where('folder', '=', folder));

const FOLDERS_PER_LOOKUP = 200;

interface KnownFolder {
  id: number;
  fingerprint: string | null;
}

async function knownFolders(db: Db, paths: string[]): Promise<Map<string, KnownFolder>> {
  if (paths.length === 0) return new Map();
  const rows = await db.selectFrom('folders').select(['id', 'path', 'fingerprint']).where('path', 'in', paths).execute();
  return new Map(rows.map((r) => [r.path, { id: r.id, fingerprint: r.fingerprint }]));
}

async function* inGroups<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let group: T[] = [];
  for await (const item of items) {
    group.push(item);
    if (group.length >= size) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

const FOLDER_ROWS_PER_WRITE = 200;
type FolderRow = { root_id: number; path: string; fingerprint: null; pending_fingerprint: string; pending_scan_id: string; last_seen_scan_id: string };

/** A changed folder's new fingerprint waits as pending until its files are written (sessions.ts). */
async function upsertFolders(db: Db, rows: FolderRow[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < rows.length; i += FOLDER_ROWS_PER_WRITE) {
      await tx
        .insertInto('folders')
        .values(rows.slice(i, i + FOLDER_ROWS_PER_WRITE))
        .onConflict((oc) =>
          oc.column('path').doUpdateSet((eb) => ({
            pending_fingerprint: eb.ref('excluded.pending_fingerprint'),
            pending_scan_id: eb.ref('excluded.pending_scan_id'),
            last_seen_scan_id: eb.ref('excluded.last_seen_scan_id'),
          })),
        )
        .execute();
    }
  });
}

/**
 * Folders of this root the walk did not reach are gone: their tracks become missing at the end of the
 * scan. Reached are the unchanged folders in `seen` and the others, whose rows carry this scan's id
 * (changed, unlistable). Writing this scan's id into every unchanged folder's row instead was a write
 * per folder at every rescan.
 */
async function forgetVanishedFolders(db: Db, rootId: number, scanId: string, seen: ReadonlySet<number>): Promise<void> {
  // ids only: the paths of the few vanished folders are read afterwards
  const gone: number[] = [];
  for (let after = 0; ; ) {
    const page = await db.selectFrom('folders').select('id').where('root_id', '=', rootId).where('last_seen_scan_id', 'is distinct from', scanId).where('id', '>', after).orderBy('id').limit(FOLDERS_PER_PAGE).execute();
    if (page.length === 0) break;
    after = page[page.length - 1]!.id;
    for (const { id } of page) if (!seen.has(id)) gone.push(id);
  }
  for (let i = 0; i < gone.length; i += 500) {
    const ids = gone.slice(i, i + 500);
    const paths = (await db.selectFrom('folders').select('path').where('id', 'in', ids).execute()).map((f) => f.path);
    await db.updateTable('tracks').set({ missing_scan_id: scanId }).where('folder', 'in', paths).where('missing_since', 'is', null).execute();
    await db.deleteFrom('scan_errors').where('folder', 'in', paths).execute();
    await db.deleteFrom('folders').where('id', 'in', ids).execute();
  }
}

const FOLDERS_PER_PAGE = 5_000;

/** An unlistable folder keeps what the library knew of it (and of its sub-folders) until it can be read again. */
async function recordFolderError(db: Db, rootId: number, scanId: string, listing: FolderListing): Promise<void> {
  const now = Date.now();
  const prefix = `${listing.dir}${path.sep}`;
  await db
    .updateTable('folders')
    .set({ last_seen_scan_id: scanId })
    .where((eb) => eb.or([eb('path', '=', listing.dir), eb(eb.fn('substr', ['path', eb.val(1), eb.val(prefix.length)]), '=', prefix)]))
    .execute();
  await db
    .insertInto('scan_errors')
    .values({ path: listing.dir, root_id: rootId, folder: path.dirname(listing.dir), scan_id: scanId, stage: 'discovery', message: `folder cannot be listed: ${listing.error}`, file_size: null, mtime_ms: null, created_at: now })
    .onConflict((oc) => oc.column('path').doUpdateSet({ scan_id: scanId, message: `folder cannot be listed: ${listing.error}`, created_at: now }))
    .execute();
  await addCounts(db, scanId, { failed: 1 });
}
