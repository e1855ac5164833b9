// A generated library scanned end to end, on the embedded runtime (SQLite) and on the distributed
// one (BullMQ + PostgreSQL): every file is a track or an error row, the entities are exactly the
// expected ones, and rescans are incremental (unchanged, touched, deleted, renamed files).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import type { Db } from '../../src/db/types.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { searchTracks } from '../../src/services/library/search.js';
import { nameKey } from '../../src/workers/scan/names.js';
import { testLogger } from '../helpers/brokers.js';
import { runtimeSetups as setups, scan } from '../helpers/runtimes.js';

async function snapshot(db: Db) {
  return db.selectFrom('tracks').select(['id', 'path', 'updated_at', 'album_id', 'artist_id']).orderBy('path').execute();
}

async function checkLibrary(db: Db, manifest: FixtureManifest): Promise<void> {
  const tracks = await db.selectFrom('tracks').select(['id', 'path', 'title']).execute();
  const errors = await db.selectFrom('scan_errors').select(['path', 'message']).execute();
  const trackPaths = new Set(tracks.map((t) => t.path));
  const errorPaths = new Set(errors.map((e) => e.path));
  for (const file of manifest.files) {
    const isTrack = trackPaths.has(file.path);
    const isError = errorPaths.has(file.path);
    assert.ok(isTrack !== isError, `${file.path} must be exactly one track or one error row (track ${isTrack}, error ${isError})`);
    if (file.expect === 'track') assert.ok(isTrack, `${file.path} should be a track; error: ${errors.find((e) => e.path === file.path)?.message}`);
    if (file.expect === 'error') assert.ok(isError, `${file.path} should be an error row`);
  }
  assert.equal(trackPaths.size + errorPaths.size, manifest.files.length, 'no track or error row for a file that is not in the library');
  for (const hidden of manifest.hiddenFiles) assert.ok(!trackPaths.has(hidden) && !errorPaths.has(hidden), `hidden ${hidden} was scanned`);
  for (const error of errors) assert.ok(error.message.length > 5, `error row without a reason: ${error.path}`);

  const artists = await db.selectFrom('artists').select(['id', 'name']).execute();
  const albums = await db.selectFrom('albums').innerJoin('artists', 'artists.id', 'albums.album_artist_id').select(['albums.id', 'albums.title', 'artists.name as artist']).execute();
  const genres = await db.selectFrom('genres').select(['id', 'name']).execute();
  assert.deepEqual(artists.map((a) => nameKey(a.name)).sort(), manifest.artistKeys);
  assert.equal(new Set(artists.map((a) => nameKey(a.name))).size, artists.length, 'duplicate artists');
  assert.deepEqual(albums.map((a) => `${nameKey(a.title)}|${nameKey(a.artist)}`).sort(), manifest.albumKeys);
  assert.deepEqual(genres.map((g) => nameKey(g.name)).sort(), manifest.genreKeys);

  const artistName = new Map(artists.map((a) => [a.id, a.name]));
  const genreName = new Map(genres.map((g) => [g.id, g.name]));
  const albumOf = new Map(albums.map((a) => [a.id, a]));
  const rows = await db.selectFrom('tracks').select(['id', 'path', 'title', 'album_id']).execute();
  const links = await db.selectFrom('track_artists').select(['track_id', 'artist_id', 'position']).orderBy('position').execute();
  const genreLinks = await db.selectFrom('track_genres').select(['track_id', 'genre_id']).execute();
  for (const row of rows) {
    const expected = manifest.tracks[row.path];
    if (!expected) continue; // a truncated file that still parsed
    assert.equal(row.title, expected.title, row.path);
    const album = albumOf.get(row.album_id!);
    assert.equal(album?.title, expected.album, row.path);
    assert.equal(nameKey(album!.artist), nameKey(expected.albumArtist), row.path);
    assert.deepEqual(links.filter((l) => l.track_id === row.id).map((l) => nameKey(artistName.get(l.artist_id)!)), expected.artists.map(nameKey), row.path);
    assert.deepEqual(genreLinks.filter((l) => l.track_id === row.id).map((l) => nameKey(genreName.get(l.genre_id)!)).sort(), expected.genres.map(nameKey).sort(), row.path);
  }
}

for (const setup of setups) {
  describe(`scan pipeline: ${setup.name}`, () => {
    let dir: string;
    let manifest: FixtureManifest;
    let runtime: Runtime;
    let cleanup: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-scan-'));
      manifest = await generateLibrary({ tracks: 70, out: path.join(dir, 'music'), maxFfmpegTracks: 8 });
      const made = await setup.config(path.join(dir, 'data'));
      cleanup = made.cleanup;
      runtime = await openRuntime(made.config, testLogger);
    });
    after(async () => {
      await runtime.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('turns every file into a track or an error row, with exactly the expected artists, albums, genres and links', async () => {
      const first = await scan(runtime, manifest.root);
      assert.equal(first.discovered, manifest.files.length);
      assert.equal(first.extracted + first.failed, manifest.files.length);
      await checkLibrary(runtime.database.db, manifest);
    });

    it('changes nothing on a second scan', async () => {
      const before = await snapshot(runtime.database.db);
      const again = await scan(runtime, manifest.root);
      assert.equal(again.discovered, manifest.files.length);
      assert.equal(again.unchanged, manifest.files.length);
      assert.equal(again.extracted + again.failed + again.removed + again.inserted, 0);
      assert.deepEqual(await snapshot(runtime.database.db), before);
    });

    it('re-reads only a touched file', async () => {
      const target = manifest.files.find((f) => f.expect === 'track')!.path;
      const before = await snapshot(runtime.database.db);
      const later = new Date(Date.now() + 60_000);
      fs.utimesSync(target, later, later);
      const result = await scan(runtime, manifest.root);
      assert.equal(result.extracted, 1);
      assert.equal(result.updated, 1);
      const after = await snapshot(runtime.database.db);
      const changed = after.filter((row, i) => row.updated_at !== before[i]!.updated_at).map((row) => row.path);
      assert.deepEqual(changed, [target]);
      assert.deepEqual(after.map((r) => r.id), before.map((r) => r.id));
    });

    it('keeps the track of a deleted file as missing (hidden), and keeps the track id of a renamed one', async () => {
      const files = manifest.files.filter((f) => f.expect === 'track').map((f) => f.path);
      const deleted = files[3]!;
      const renamed = files[5]!;
      const db = runtime.database.db;
      const renamedId = (await db.selectFrom('tracks').select('id').where('path', '=', renamed).executeTakeFirstOrThrow()).id;
      fs.rmSync(deleted);
      const newPath = path.join(path.dirname(renamed), `renamed ${path.basename(renamed)}`);
      fs.renameSync(renamed, newPath);

      const result = await scan(runtime, manifest.root);
      assert.equal(result.removed, 1);
      assert.equal(result.moved, 1);
      const missing = await db.selectFrom('tracks').select(['id', 'missing_since']).where('path', '=', deleted).executeTakeFirstOrThrow();
      assert.ok(missing.missing_since !== null, 'the track of the deleted file is missing, not deleted');
      assert.ok(!(await searchTracks(db, undefined, { limit: 500, offset: 0 })).some((t) => t.id === missing.id), 'hidden from listings');
      const moved = await db.selectFrom('tracks').select(['id', 'path']).where('path', '=', newPath).executeTakeFirstOrThrow();
      assert.equal(moved.id, renamedId);
      assert.equal(await db.selectFrom('tracks').select('id').where('path', '=', renamed).executeTakeFirst(), undefined);
    });
  });
}
