// The index that answers similarity queries in this process: built from the database for the
// active model version, kept up to date by reading the vectors written since (updated_at), and
// replaced when another version becomes active: the new index is built in the background while the
// old one keeps serving (the old version's vectors stay in the database for an hour for that), in
// slices of PAGE vectors with the event loop free between them.
// An HNSW index is saved beside the database (vectors/v<version>.usearch + .json) after a build
// and on close, so a restart loads it and reads only what changed since.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../db/types.js';
import { createIndex, EXACT_BELOW, HnswIndex, type VectorIndex } from './ann_index.js';
import { vectorFromBytes } from './model.js';
import { activeModel, countVectors } from './store.js';

/** vectors written within this much before the last read are read again (clock skew between writers) */
const SKEW_MS = 5_000;
/** the active version is looked up at most this often */
const CHECK_MS = 1_000;
/** vectors read and added per slice (an HNSW slice of 1,000 takes ~0.2 s at a million vectors) */
const PAGE = 1_000;

export interface ServingIndex {
  version: number;
  dimension: number;
  index: VectorIndex;
}

interface State extends ServingIndex {
  syncedUntil: number;
  changedSinceSave: number;
}

export class LibraryIndex {
  private state: State | null = null;
  private checkedAt = 0;
  private refreshing: Promise<ServingIndex | null> | null = null;
  /** the index of a newer version being built while `state` serves */
  private next: { version: number; done: Promise<void> } | null = null;

  /** how the current index came to be: read from its saved file, or built from the database */
  origin: 'file' | 'database' | null = null;

  /** `dir`: where HNSW indexes are saved (null: never saved); `exactBelow`: see EXACT_BELOW */
  constructor(
    private readonly db: Db,
    private readonly dir: string | null,
    private readonly exactBelow = EXACT_BELOW,
  ) {}

  /**
   * The index of the active version, up to date within CHECK_MS (`fresh`: now); null when no
   * model is active.
   */
  async current(fresh = false): Promise<ServingIndex | null> {
    if (!fresh && this.state && Date.now() - this.checkedAt < CHECK_MS) return this.state;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** waits for an index being built in the background (tests, benches) */
  async settled(): Promise<void> {
    await this.next?.done;
  }

  /** saves an HNSW index that changed since it was last saved */
  close(): void {
    if (this.state && this.state.changedSinceSave > 0) this.save(this.state);
  }

  private async refresh(): Promise<ServingIndex | null> {
    const model = await activeModel(this.db);
    this.checkedAt = Date.now();
    if (!model) {
      this.state = null;
      return null;
    }
    if (!this.state) {
      // nothing to serve meanwhile: the first index is built now
      this.state = await this.build(model.version, model.dimension);
    } else if (this.state.version !== model.version || (this.state.index.kind === 'exact' && this.state.index.size() > this.exactBelow * 1.5)) {
      // a new version, or an exact index that grew well past the size where HNSW takes over:
      // built in the background, the current one serves until then
      if (this.next?.version !== model.version) {
        const version = model.version;
        const done = this.build(version, model.dimension).then(
          (built) => {
            if (this.next?.version === version) {
              this.state = built;
              this.next = null;
            }
          },
          () => {
            if (this.next?.version === version) this.next = null; // tried again at the next query
          },
        );
        this.next = { version, done };
      }
    }
    await this.catchUp(this.state);
    return this.state;
  }

  private async build(version: number, dimension: number): Promise<State> {
    const saved = this.load(version, dimension);
    if (saved) {
      this.origin = 'file';
      return saved;
    }
    this.origin = 'database';
    const expected = await countVectors(this.db, version);
    const index = createIndex(dimension, expected, this.exactBelow);
    // read before paging: whatever is written during the build (at any id) is read by the catch-up
    const mark = await this.db.selectFrom('track_vectors').select((eb) => eb.fn.max('updated_at').as('m')).where('model_version', '=', version).executeTakeFirst();
    const syncedUntil = Number(mark?.m ?? 0);
    let after = -1;
    for (;;) {
      const rows = await this.db.selectFrom('track_vectors').select(['track_id', 'vector', 'updated_at']).where('model_version', '=', version).where('track_id', '>', after).orderBy('track_id').limit(PAGE).execute();
      if (rows.length === 0) break;
      if (index instanceof HnswIndex) {
        const packed = new Float32Array(rows.length * dimension);
        rows.forEach((r, i) => packed.set(vectorFromBytes(r.vector), i * dimension));
        index.addMany(rows.map((r) => Number(r.track_id)), packed);
      } else {
        for (const r of rows) index.upsert(Number(r.track_id), vectorFromBytes(r.vector));
      }
      after = Number(rows[rows.length - 1]!.track_id);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const state: State = { version, dimension, index, syncedUntil, changedSinceSave: 0 };
    try {
      this.save(state);
    } catch {
      // a disk that cannot take the file only costs a rebuild at the next start
    }
    return state;
  }

  /** reads the vectors written since the last read (new tracks, changed tags, a re-vectorised batch) */
  private async catchUp(state: State): Promise<void> {
    let from = state.syncedUntil - SKEW_MS;
    for (;;) {
      const rows = await this.db
        .selectFrom('track_vectors')
        .select(['track_id', 'vector', 'updated_at'])
        .where('model_version', '=', state.version)
        .where('updated_at', '>=', from)
        .orderBy('updated_at')
        .orderBy('track_id')
        .limit(PAGE)
        .execute();
      for (const r of rows) {
        state.index.upsert(Number(r.track_id), vectorFromBytes(r.vector));
        state.syncedUntil = Math.max(state.syncedUntil, Number(r.updated_at));
      }
      state.changedSinceSave += rows.length;
      if (rows.length < PAGE) break;
      const last = Number(rows[rows.length - 1]!.updated_at);
      // a page of one millisecond only: step past it (its rows were all read, as ties sort by id)
      from = last > from ? last : from + 1;
    }
  }

  private files(version: number): { index: string; meta: string } | null {
    if (!this.dir) return null;
    return { index: path.join(this.dir, `v${version}.usearch`), meta: path.join(this.dir, `v${version}.json`) };
  }

  private save(state: State): void {
    const files = this.files(state.version);
    if (!files || !state.index.save) return;
    fs.mkdirSync(this.dir!, { recursive: true });
    // written under temporary names, then renamed: a crash leaves the old pair or the new one
    state.index.save(`${files.index}.tmp`);
    const { sha256, bytes } = digest(`${files.index}.tmp`);
    fs.writeFileSync(`${files.meta}.tmp`, JSON.stringify({ version: state.version, dimension: state.dimension, syncedUntil: state.syncedUntil, sha256, bytes }));
    fs.renameSync(`${files.index}.tmp`, files.index);
    fs.renameSync(`${files.meta}.tmp`, files.meta);
    state.changedSinceSave = 0;
    // indexes of other versions are of no use any more
    for (const name of fs.readdirSync(this.dir!)) {
      if (/^v\d+\.(usearch|json)$/.test(name) && !name.startsWith(`v${state.version}.`)) fs.rmSync(path.join(this.dir!, name), { force: true });
    }
  }

  private load(version: number, dimension: number): State | null {
    const files = this.files(version);
    if (!files || !fs.existsSync(files.index) || !fs.existsSync(files.meta)) return null;
    try {
      const meta = JSON.parse(fs.readFileSync(files.meta, 'utf8')) as { version: number; dimension: number; syncedUntil: number; sha256: string; bytes: number };
      if (meta.version !== version || meta.dimension !== dimension) return null;
      // the index file has no checksum of its own, and usearch can crash the process on a damaged
      // one: it is loaded only if it is byte for byte what was saved
      if (fs.statSync(files.index).size !== meta.bytes || digest(files.index).sha256 !== meta.sha256) return null;
      return { version, dimension, index: new HnswIndex(dimension, files.index), syncedUntil: meta.syncedUntil, changedSinceSave: 0 };
    } catch {
      return null; // a damaged file: rebuilt from the database
    }
  }
}

/** sha256 and size of a file, read in 4 MiB slices */
function digest(file: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(4 * 1024 * 1024);
  let bytes = 0;
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; bytes += n) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}
