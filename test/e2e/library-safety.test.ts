// Never lose the user's library (issue 17), on both runtimes: a root that is unmounted, emptied or
// renamed away is not scanned and nothing goes missing (and the watcher waits for it); files that
// vanish between discovery and extraction or fail with EIO are read by the next incremental scan;
// a retagged and moved file keeps its id and gets its new tags; a deleted file's track is missing
// (hidden), not deleted, and comes back with its id; a link re-pointed outside the root after the
// scan is not read by the covers stage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { buildApi } from '../../src/api/server.js';
import { flacWithTags, mp3WithTags, splitFlac, stripId3 } from '../../scripts/tag-writers.js';
import type { Db, ScanTable } from '../../src/db/types.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { searchAlbums, searchArtists, searchTracks } from '../../src/services/library/search.js';
import { LibraryWatcher } from '../../src/services/watcher.js';
import { injectReadFault } from '../../src/workers/scan/metadata_extractor.js';
import { getScan } from '../../src/workers/scan/sessions.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, runtimeSetups as setups } from '../helpers/runtimes.js';

const isRoot = process.getuid?.() === 0;
// mounting needs root: we run as root here and in CI, where this must never be skipped
const skipMounts = !isRoot && process.env.CI !== 'true' ? 'needs root (mount)' : false;

const MB_RECORDING = '0b2f3b5e-5f2c-4c1e-9a55-8c9f1f7a1e01';

async function scanOnce(runtime: Runtime, root: string): Promise<ScanTable> {
  const worker = await runtime.broker.startWorker();
  const scanId = randomUUID();
  try {
    await runtime.broker.enqueue('scan.discovery', { root, scanId });
    for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 50))) {
      const current = await getScan(runtime.database.db, scanId);
      if (current && current.status !== 'running') return current;
      if (Date.now() > deadline) throw new Error(`scan still running: ${JSON.stringify(current)}`);
    }
  } finally {
    await worker.close();
  }
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

const present = (db: Db) => db.selectFrom('tracks').select(['id', 'path', 'title', 'updated_at']).where('missing_since', 'is', null).orderBy('path').execute();

for (const setup of setups) {
  describe(`library safety: ${setup.name}`, () => {
    let dir: string;
    let disk: string; // a tmpfs holding the files: the user's USB disk
    let root: string; // the library root: `disk` bind-mounted here
    let mp3: Buffer;
    let flac: ReturnType<typeof splitFlac>;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;
    let mounted: string[] = [];

    const mount = (args: string[], target: string) => {
      execFileSync('mount', [...args, target]);
      mounted.push(target);
    };
    const umount = (target: string) => {
      execFileSync('umount', [target]);
      mounted = mounted.filter((m) => m !== target);
    };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-safety-'));
      disk = path.join(dir, 'disk');
      root = path.join(dir, 'music');
      fs.mkdirSync(disk);
      fs.mkdirSync(root);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-b:a', '64k', path.join(dir, 'base.mp3')]);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=330:duration=1', path.join(dir, 'base.flac')]);
      mp3 = stripId3(fs.readFileSync(path.join(dir, 'base.mp3')));
      flac = splitFlac(fs.readFileSync(path.join(dir, 'base.flac')));
      if (!skipMounts) {
        mount(['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs'], disk);
        mount(['--bind', disk], root);
      }
      for (const [artist, album] of [['Ana', 'First'], ['Ben', 'Second'], ['Cleo', 'Third']] as const) {
        fs.mkdirSync(path.join(root, artist, album), { recursive: true });
        for (let n = 1; n <= 4; n++) {
          fs.writeFileSync(path.join(root, artist, album, `0${n} - ${album} ${n}.mp3`), mp3WithTags(mp3, { title: `${album} ${n}`, artists: [artist], album, track: [n, 4] }));
        }
      }
      fs.mkdirSync(path.join(root, 'Dora', 'Old Album'), { recursive: true });
      fs.writeFileSync(path.join(root, 'Dora', 'Old Album', '01 - Old Title.flac'), flacWithTags(flac, { title: 'Old Title', artists: ['Dora'], album: 'Old Album', mbRecordingId: MB_RECORDING }));
      const made = await setup.config(path.join(dir, 'data'));
      cleanup = made.cleanup;
      // tags parsed in this thread (scanThreads 0): the EIO test seam (injectReadFault) lives here
      runtime = await openRuntime({ ...made.config, analysis: false, scanThreads: 0, libraryRoots: [root] }, testLogger);
    });
    after(async () => {
      injectReadFault(undefined);
      await runtime?.close();
      await cleanup?.();
      for (const target of [...mounted].reverse()) execFileSync('umount', ['-l', target]);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('an unmounted, renamed or emptied root is not scanned: 0 tracks removed; back, the same ids and analysis', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const first = await scanOnce(runtime, root);
      assert.equal(first.status, 'completed', first.last_error ?? '');
      const tracks = await present(db);
      assert.equal(tracks.length, 13);
      // what must not be recomputed: analysis and vectors of every track
      const now = Date.now();
      await db.insertInto('track_analysis').values(tracks.map((t) => ({ track_id: t.id, version: 1, decoder: 'test', seconds_analyzed: 1, analyzed_at: now, bpm: 120, bpm_confidence: null, key: null, scale: null, key_confidence: null, camelot: null, lufs: null, sample_peak: null, true_peak: null, rg_track_gain: null, rg_album_gain: null, gated_blocks: null, energy: null, danceability: null, features: null }))).execute();
      const model = await db.insertInto('vector_models').values({ status: 'active', dimension: 2, reason: 'test', params: '{}', track_count: tracks.length, tag_signature: 'x', training_ms: 1, created_at: now, activated_at: now }).returning('version').executeTakeFirstOrThrow();
      await db.insertInto('track_vectors').values(tracks.map((t) => ({ track_id: t.id, model_version: model.version, vector: new Uint8Array(8), updated_at: now }))).execute();

      const refused = async (pattern: RegExp) => {
        const result = await scanOnce(runtime, root);
        assert.equal(result.status, 'failed');
        assert.match(result.last_error ?? '', pattern);
        assert.equal(result.removed, 0);
        assert.deepEqual(await present(db), tracks, 'no track removed, missing or changed');
      };
      umount(root); // the disk is unplugged: the mount point is an empty folder on another device
      await refused(/not mounted/);
      fs.renameSync(root, `${root}-away`);
      await refused(/absent/);
      fs.renameSync(`${root}-away`, root);

      // the watcher waits for the root instead of scanning it, and scans it once it is back
      const worker = await runtime.broker.startWorker();
      const watcher = new LibraryWatcher(runtime, { debounceMs: 200, waitSeconds: 0.2 });
      try {
        await watcher.start();
        assert.equal(watcher.status()[0]?.mode, 'wait');
        const scansBefore = (await db.selectFrom('scans').select('id').execute()).length;
        mount(['--bind', disk], root);
        await until(async () => (await db.selectFrom('scans').select('status').execute()).length > scansBefore && (await db.selectFrom('scans').select('id').where('status', '=', 'running').execute()).length === 0, 'a scan of the root once it is back');
        const last = await db.selectFrom('scans').selectAll().orderBy('started_at', 'desc').executeTakeFirstOrThrow();
        assert.equal(last.status, 'completed', last.last_error ?? '');
        assert.equal(watcher.status()[0]?.mode, 'watch');
      } finally {
        await watcher.close();
        await worker.close();
      }
      assert.deepEqual(await present(db), tracks, 'the same ids, nothing re-read');
      assert.equal((await db.selectFrom('track_analysis').select('track_id').where('analyzed_at', '=', now).execute()).length, tracks.length, 'analysis kept');
      assert.equal((await db.selectFrom('track_vectors').select('track_id').where('updated_at', '=', now).execute()).length, tracks.length, 'vectors kept');

      // a root emptied on its own device (its folders moved away) is refused too
      const aside = path.join(root, '.aside'); // hidden: not scanned
      fs.mkdirSync(aside);
      for (const name of fs.readdirSync(root).filter((n) => !n.startsWith('.'))) fs.renameSync(path.join(root, name), path.join(aside, name));
      await refused(/empty/);
      for (const name of fs.readdirSync(aside)) fs.renameSync(path.join(aside, name), path.join(root, name));
      fs.rmdirSync(aside);
    });

    it('a deleted file makes its track missing (hidden), and it comes back with its id', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const file = path.join(root, 'Ana', 'First', '01 - First 1.mp3');
      const before = await db.selectFrom('tracks').select('id').where('path', '=', file).executeTakeFirstOrThrow();
      const bytes = fs.readFileSync(file);
      const stat = fs.statSync(file);
      fs.rmSync(file);
      const gone = await scanOnce(runtime, root);
      assert.equal(gone.status, 'completed');
      assert.equal(gone.removed, 1);
      const row = await db.selectFrom('tracks').select(['id', 'missing_since']).where('path', '=', file).executeTakeFirstOrThrow();
      assert.equal(row.id, before.id);
      assert.ok(row.missing_since !== null);
      assert.ok(!(await searchTracks(db, undefined, { limit: 500, offset: 0 })).some((t) => t.id === before.id), 'hidden from listings');
      // the album and its artist stay listed while another of their tracks is present
      assert.ok((await searchAlbums(db, 'First', { limit: 50, offset: 0 })).some((a) => a.title === 'First'));
      assert.ok((await searchArtists(db, 'Ana', { limit: 50, offset: 0 })).some((a) => a.name === 'Ana'));
      // shown by the API (and `soniquebay library missing`, test/e2e/cli.test.ts)
      const app = await buildApi({ runtime, host: '127.0.0.1' });
      try {
        const listed = (await app.inject('/tracks/missing')).json() as { items: { id: number; path: string }[] };
        assert.deepEqual(listed.items.map((t) => [t.id, t.path]), [[before.id, file]]);
        assert.ok(!((await app.inject('/tracks?limit=500')).json() as { items: { id: number }[] }).items.some((t) => t.id === before.id));
        assert.equal((await app.inject(`/tracks/${before.id}`)).statusCode, 200, 'a missing track is still known by its id');
      } finally {
        await app.close();
      }
      fs.writeFileSync(file, bytes);
      fs.utimesSync(file, stat.atime, stat.mtime);
      assert.equal((await scanOnce(runtime, root)).status, 'completed');
      const back = await db.selectFrom('tracks').select(['id', 'missing_since']).where('path', '=', file).executeTakeFirstOrThrow();
      assert.deepEqual(back, { id: before.id, missing_since: null });
    });

    it('a file gone between discovery and extraction, or failing with EIO, is a track after the next incremental scan', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const folder = path.join(root, 'Eve', 'Flaky');
      fs.mkdirSync(folder, { recursive: true });
      const vanishing = path.join(folder, '01 - Vanishing.mp3');
      const failing = path.join(folder, '02 - Failing.mp3');
      const existing = path.join(root, 'Ben', 'Second', '02 - Second 2.mp3');
      const existingId = (await db.selectFrom('tracks').select('id').where('path', '=', existing).executeTakeFirstOrThrow()).id;
      fs.writeFileSync(vanishing, mp3WithTags(mp3, { title: 'Vanishing', artists: ['Eve'], album: 'Flaky' }));
      fs.writeFileSync(failing, mp3WithTags(mp3, { title: 'Failing', artists: ['Eve'], album: 'Flaky' }));
      const later = new Date(Date.now() + 60_000);
      fs.utimesSync(existing, later, later); // changed: read again, and that read fails
      const aside = path.join(root, '.vanished.mp3'); // hidden: not scanned
      injectReadFault((file) => {
        if (file === vanishing && fs.existsSync(vanishing)) fs.renameSync(vanishing, aside); // really gone when it is opened
        if (file === failing || file === existing) throw Object.assign(new Error(`EIO: i/o error, open '${file}'`), { code: 'EIO' });
      });
      try {
        const faulty = await scanOnce(runtime, root);
        assert.equal(faulty.status, 'completed');
      } finally {
        injectReadFault(undefined);
      }
      const paths = new Set((await present(db)).map((t) => t.path));
      assert.ok(!paths.has(vanishing) && !paths.has(failing));
      assert.ok(paths.has(existing), 'a transient failure does not remove the track of a known file');
      fs.renameSync(aside, vanishing); // back, with its mtime

      const next = await scanOnce(runtime, root);
      assert.equal(next.status, 'completed');
      assert.equal(next.full, 0);
      const tracks = await db.selectFrom('tracks').select(['id', 'path', 'title']).where('path', 'in', [vanishing, failing, existing]).orderBy('path').execute();
      assert.deepEqual(tracks.map((t) => t.title).sort(), ['Failing', 'Second 2', 'Vanishing']);
      assert.equal(tracks.find((t) => t.path === existing)!.id, existingId);
      assert.deepEqual(await db.selectFrom('scan_errors').select('path').where('path', 'in', [vanishing, failing, existing]).execute(), []);
    });

    it('a retagged and moved file keeps its id and gets its new tags in one scan', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const oldPath = path.join(root, 'Dora', 'Old Album', '01 - Old Title.flac');
      const before = await db.selectFrom('tracks').select(['id', 'title']).where('path', '=', oldPath).executeTakeFirstOrThrow();
      assert.equal(before.title, 'Old Title');
      // as Picard or beets do: new tags written, the file moved to the new album's folder
      const newPath = path.join(root, 'Dora', 'New Album', '01 - New Title.flac');
      fs.mkdirSync(path.dirname(newPath), { recursive: true });
      fs.writeFileSync(newPath, flacWithTags(flac, { title: 'New Title', artists: ['Dora'], album: 'New Album', mbRecordingId: MB_RECORDING }));
      fs.rmSync(oldPath);
      const result = await scanOnce(runtime, root);
      assert.equal(result.status, 'completed');
      assert.equal(result.moved, 1);
      const after = await db.selectFrom('tracks').innerJoin('albums', 'albums.id', 'tracks.album_id').select(['tracks.id', 'tracks.title', 'albums.title as album', 'tracks.missing_since']).where('tracks.path', '=', newPath).executeTakeFirstOrThrow();
      assert.deepEqual(after, { id: before.id, title: 'New Title', album: 'New Album', missing_since: null });
      assert.equal(await db.selectFrom('tracks').select('id').where('path', '=', oldPath).executeTakeFirst(), undefined);
      // and stays so: the next scan has nothing to re-read
      const again = await scanOnce(runtime, root);
      assert.equal(again.extracted, 0);
    });

    it('the covers stage resolves links at open time: one re-pointed outside the root is not read', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const jpeg = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#c33' } }).jpeg().toBuffer();
      const inside = path.join(root, 'Ana', 'First', '.inside.mp3');
      fs.writeFileSync(inside, mp3WithTags(mp3, { title: 'Linked', artists: ['Gus'], album: 'Links', cover: { mime: 'image/jpeg', data: jpeg } }));
      const outside = path.join(dir, 'outside.mp3');
      const secret = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#33c' } }).jpeg().toBuffer();
      fs.writeFileSync(outside, mp3WithTags(mp3, { title: 'Secret', artists: ['Gus'], album: 'Links', cover: { mime: 'image/jpeg', data: secret } }));
      const link = path.join(root, 'Gus', 'link.mp3');
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(inside, link);
      // scanned while the link points inside; then re-pointed outside before the covers stage runs
      // (a picture already in the store would be linked by its hash without a read: not this one)
      const worker = await runtime.broker.startWorker({ queues: ['scan', 'extract', 'batch'] });
      const scanId = randomUUID();
      await runtime.broker.enqueue('scan.discovery', { root, scanId });
      await until(async () => (await getScan(db, scanId))?.status === 'completed', 'the scan');
      await worker.close();
      const track = await db.selectFrom('tracks').select('id').where('path', '=', link).executeTakeFirstOrThrow();
      fs.rmSync(link);
      fs.symlinkSync(outside, link);
      await db.deleteFrom('covers').where('entity_type', '=', 'track').where('entity_id', '=', track.id).execute();
      await runtime.broker.enqueue('covers.extract_embedded_covers_batch', { trackIds: [track.id] });
      await drain(runtime.broker);
      const covers = await db.selectFrom('covers').select('hash').where('entity_type', '=', 'track').where('entity_id', '=', track.id).execute();
      const secretHash = (await import('node:crypto')).createHash('sha256').update(secret).digest('hex');
      assert.ok(!covers.some((c) => c.hash === secretHash), 'the outside picture was stored');
      assert.equal(runtime.services.images.has(secretHash), false);
      const work = await db.selectFrom('work_state').select(['status', 'last_error']).where('entity_type', '=', 'track').where('entity_id', '=', track.id).where('stage', '=', 'covers').executeTakeFirstOrThrow();
      assert.equal(work.status, 'failed');
      assert.match(work.last_error ?? '', /outside the library roots/);
    });

    it('missing tracks are purged after the grace period, with their cover rows and empty albums', { skip: skipMounts }, async () => {
      const db = runtime.database.db;
      const jpeg = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#3c3' } }).jpeg().toBuffer();
      const file = path.join(root, 'Hal', 'Gone Soon', '01 - Leaving.mp3');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, mp3WithTags(mp3, { title: 'Leaving', artists: ['Hal'], album: 'Gone Soon', cover: { mime: 'image/jpeg', data: jpeg } }));
      assert.equal((await scanOnce(runtime, root)).status, 'completed');
      await drain(runtime.broker);
      const track = await db.selectFrom('tracks').select(['id', 'album_id']).where('path', '=', file).executeTakeFirstOrThrow();
      const covers = () => db.selectFrom('covers').select('id').where((eb) => eb.or([eb.and([eb('entity_type', '=', 'track'), eb('entity_id', '=', track.id)]), eb.and([eb('entity_type', '=', 'album'), eb('entity_id', '=', track.album_id!)])])).execute();
      assert.equal((await covers()).length, 2, 'track and album covers stored');
      assert.ok((await searchArtists(db, 'Hal', { limit: 50, offset: 0 })).some((a) => a.name === 'Hal'));
      fs.rmSync(file);
      assert.equal((await scanOnce(runtime, root)).status, 'completed');
      // all of its files missing: the album and the artist leave the listings with the track
      assert.ok(!(await searchAlbums(db, 'Gone Soon', { limit: 50, offset: 0 })).some((a) => a.title === 'Gone Soon'), 'album of missing tracks hidden');
      assert.ok(!(await searchArtists(db, 'Hal', { limit: 50, offset: 0 })).some((a) => a.name === 'Hal'), 'artist of missing tracks hidden');
      const purge = async (olderThanDays: number) => {
        await runtime.broker.enqueue('maintenance.purge_missing_tracks', { olderThanDays });
        await drain(runtime.broker);
      };
      await purge(30);
      assert.ok(await db.selectFrom('tracks').select('id').where('id', '=', track.id).executeTakeFirst(), 'kept during the grace period');
      assert.equal((await covers()).length, 2);
      await purge(0);
      assert.equal(await db.selectFrom('tracks').select('id').where('id', '=', track.id).executeTakeFirst(), undefined);
      assert.equal(await db.selectFrom('albums').select('id').where('id', '=', track.album_id!).executeTakeFirst(), undefined, 'the empty album goes');
      assert.deepEqual(await covers(), [], 'no cover row left for the deleted track and album');
    });
  });
}
