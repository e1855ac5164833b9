// Covers and artist images of a generated library, on both runtimes: every album with embedded or
// folder art gets exactly one stored original and all sizes, identical art is stored once, and a
// corrupt picture is a recorded failure, not a crash.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { imageFor } from '../../src/workers/covers/links.js';
import { nameKey } from '../../src/workers/scan/names.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, runtimeSetups, scan } from '../helpers/runtimes.js';

const RENDITIONS = ['1024.jpg', '1024.webp', '256.jpg', '256.webp', '512.jpg', '512.webp', '64.jpg', '64.webp'];

for (const setup of runtimeSetups) {
  describe(`covers: ${setup.name}`, () => {
    let dir: string;
    let manifest: FixtureManifest;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-covers-'));
      manifest = await generateLibrary({ tracks: 120, out: path.join(dir, 'music'), maxFfmpegTracks: 6 });
      const made = await setup.config(path.join(dir, 'data'));
      cleanup = made.cleanup;
      runtime = await openRuntime(made.config, testLogger);
      await scan(runtime, manifest.root);
      await drain(runtime.broker);
    });
    after(async () => {
      await runtime.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('gives every album with embedded or folder art exactly one stored original and every size', async () => {
      const { db } = runtime.database;
      const albums = await db.selectFrom('albums').innerJoin('artists', 'artists.id', 'albums.album_artist_id').select(['albums.id', 'albums.title', 'artists.name']).execute();
      const covers = await db.selectFrom('covers').select(['entity_id', 'source', 'hash']).where('entity_type', '=', 'album').execute();
      let withArt = 0;
      for (const album of albums) {
        const expected = manifest.albumArt[`${nameKey(album.title)}|${nameKey(album.name)}`] ?? null;
        const rows = covers.filter((c) => c.entity_id === album.id);
        if (!expected) {
          assert.deepEqual(rows, [], `${album.title} has no art in its files or folder`);
          continue;
        }
        withArt++;
        assert.deepEqual(rows.map((r) => r.source), [expected], album.title);
        const { hash } = rows[0]!;
        const prefix = path.dirname(runtime.services.images.fileOf(hash, 'meta.json'));
        const files = fs.readdirSync(prefix).filter((f) => f.startsWith(`${hash}.`)).map((f) => f.slice(hash.length + 1)).sort();
        assert.deepEqual(files.filter((f) => f.startsWith('original.')), ['original.jpg'], album.title);
        assert.deepEqual(files.filter((f) => /^\d+\./.test(f)), RENDITIONS, album.title);
        const served = await imageFor(db, runtime.services.images, 'album', album.id, 300, 'webp');
        assert.equal(served?.path, runtime.services.images.fileOf(hash, '512.webp'));
      }
      assert.ok(withArt >= 5, `only ${withArt} albums with art in the fixture`);
      // every stored picture had its sizes rendered by deferred.render_images, and says so
      const waiting = await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).execute();
      assert.deepEqual(waiting, []);
    });

    it('stores identical art once: an album\'s tracks share its picture', async () => {
      const { db } = runtime.database;
      const images = await db.selectFrom('images').select('hash').execute();
      const expectedDistinct = Object.values(manifest.albumArt).filter(Boolean).length + manifest.artistArt.length;
      assert.equal(images.length, expectedDistinct);
      const onDisk = fs.readdirSync(runtime.services.images.dir).flatMap((p) => fs.readdirSync(path.join(runtime.services.images.dir, p)));
      // one entry per picture (its files `<hash>.<name>`), and no temporary file left behind
      assert.equal(new Set(onDisk.map((f) => f.slice(0, 64))).size, expectedDistinct);
      assert.deepEqual(onDisk.filter((f) => !/^[0-9a-f]{64}\.(meta\.json|original\.[a-z]+|\d+\.(webp|jpg))$/.test(f)), []);
      const trackCovers = await db
        .selectFrom('covers as t')
        .innerJoin('tracks', 'tracks.id', 't.entity_id')
        .innerJoin('covers as a', (join) => join.onRef('a.entity_id', '=', 'tracks.album_id').on('a.entity_type', '=', 'album'))
        .select(['t.hash as trackHash', 'a.hash as albumHash'])
        .where('t.entity_type', '=', 'track')
        .execute();
      assert.ok(trackCovers.length > 10);
      assert.ok(trackCovers.every((c) => c.trackHash === c.albumHash));
    });

    it('finds artist images in the artist folder', async () => {
      const { db } = runtime.database;
      const rows = await db.selectFrom('covers').innerJoin('artists', 'artists.id', 'covers.entity_id').select(['artists.name', 'covers.source']).where('covers.entity_type', '=', 'artist').execute();
      assert.deepEqual(rows.map((r) => nameKey(r.name)).sort(), [...manifest.artistArt].sort());
      assert.ok(rows.every((r) => r.source === 'folder'));
    });

    it('records a corrupt embedded picture as a failure with its reason', async () => {
      assert.ok(manifest.corruptPictures.length > 0, 'the fixture has a corrupt picture');
      const { db } = runtime.database;
      for (const file of manifest.corruptPictures) {
        const track = await db.selectFrom('tracks').select('id').where('path', '=', file).executeTakeFirstOrThrow();
        const work = await db.selectFrom('work_state').select(['status', 'last_error']).where('entity_type', '=', 'track').where('entity_id', '=', track.id).where('stage', '=', 'covers').executeTakeFirstOrThrow();
        assert.equal(work.status, 'failed');
        assert.match(work.last_error ?? '', /not a readable image/);
      }
      const failedJobs = await runtime.broker.listJobs({ state: 'failed' });
      assert.deepEqual(failedJobs, [], 'no job failed');
    });
  });
}
