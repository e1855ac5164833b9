// A true drop-in for SoniqueBay (issue 20): SoniqueBay's own two Celery apps (Debian's python3-celery,
// configured as upstream's, test/helpers/soniquebay-client.py) send every call of the contract's
// §1.2 exactly as its API does to `soniquebay worker --celery`; its library lands in SoniqueBay's
// schema (§3, in a PostgreSQL schema of this test's own) through the sink; its UI's progress and
// notification channels (§2) carry the scan under the Celery id.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { openDatabase } from '../../src/db/open.js';
import { QUEUE_NAMES } from '../../src/tasks.js';
import { nameKey } from '../../src/workers/scan/names.js';
import { databaseUrl, redisUrl } from '../helpers/brokers.js';
import { CeleryClient, celeryDatabaseUrl, SONIQUEBAY_CLIENT, type CeleryAnswer } from '../helpers/celery.js';
import { createSoniqueBayDb, snapshot, type SoniqueBayDb } from '../helpers/soniquebay-db.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const CELERY_DB = 8;
const base = redisUrl();
const pgUrl = databaseUrl();
const skip = base && pgUrl ? false : 'needs REDIS_URL and DATABASE_URL';

type Event = { type: string; task_id?: string; percent?: number; current?: number; total?: number; step?: string };

/** Last.fm's documented answers (artist.getInfo / artist.getSimilar), for any artist asked */
function lastfmReplay(similarNames: () => string[]): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = url.searchParams.get('method');
    const artist = url.searchParams.get('artist') ?? 'Unknown';
    res.setHeader('content-type', 'application/json');
    if (url.pathname !== '/2.0/' || url.searchParams.get('api_key') !== 'test-key') {
      res.statusCode = 404;
      return res.end('{}');
    }
    if (method === 'artist.getinfo') {
      return res.end(
        JSON.stringify({
          artist: {
            name: artist,
            url: `https://www.last.fm/music/${encodeURIComponent(artist)}`,
            stats: { listeners: '123456', playcount: '7890123' },
            tags: { tag: [{ name: 'rock', url: 'x' }, { name: 'indie', url: 'y' }] },
            bio: { summary: `${artist} is a band. <a href="https://www.last.fm/music/x">Read more on Last.fm</a>` },
          },
        }),
      );
    }
    if (method === 'artist.getsimilar') {
      return res.end(JSON.stringify({ similarartists: { artist: [...similarNames().map((name, i) => ({ name, match: String(1 - i / 10) })), { name: 'Nobody Here', match: '0.05' }], '@attr': { artist } } }));
    }
    res.end(JSON.stringify({ error: 3, message: 'Invalid Method - No method with that name in this package' }));
  });
}

describe('SoniqueBay drop-in: its calls, its progress events, its library (sink)', { skip }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let redis: Redis;
  let listener: Redis;
  let worker: ChildProcess;
  let log = '';
  let client: CeleryClient;
  let sb: SoniqueBayDb;
  let server: http.Server;
  const events: { channel: string; event: Event }[] = [];
  const prefix = `sbtest-${randomUUID().slice(0, 8)}`;
  const celeryUrl = base ? celeryDatabaseUrl(base, CELERY_DB) : '';
  let similarNames: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-soniquebay-'));
    redis = new Redis(celeryUrl);
    await redis.flushdb();
    sb = await createSoniqueBayDb(pgUrl!);
    manifest = await generateLibrary({ tracks: 24, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
    server = lastfmReplay(() => similarNames);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const replay = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // every outside service points at the replay server (it answers 404 but for Last.fm)
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ providerUrls: { coverartarchive: replay, deezer: replay, lastfm: replay, fanarttv: replay, musicbrainz: replay } }));

    listener = new Redis(celeryUrl);
    await listener.subscribe('progress', 'notifications');
    listener.on('message', (channel: string, message: string) => events.push({ channel, event: JSON.parse(message) as Event }));

    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('SONIQUEBAY_') || key.startsWith('CELERY_')) delete env[key];
    Object.assign(env, {
      SONIQUEBAY_DATA_DIR: path.join(dir, 'data'),
      SONIQUEBAY_CONFIG: path.join(dir, 'config.json'),
      CELERY_BROKER_URL: celeryUrl,
      CELERY_RESULT_BACKEND: celeryUrl,
      SONIQUEBAY_REDIS_PREFIX: prefix,
      SONIQUEBAY_ANALYSIS: 'false',
      SONIQUEBAY_LASTFM_API_KEY: 'test-key',
      SONIQUEBAY_SINK_URL: pgUrl,
      SONIQUEBAY_SINK_SCHEMA: sb.schema,
      SONIQUEBAY_LOG_LEVEL: 'info',
    });
    worker = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--celery', '--no-schedules'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    for (const deadline = Date.now() + 30_000; !log.includes('worker started'); await sleep(50)) {
      if (worker.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start:\n${log}`);
    }
    client = new CeleryClient(celeryUrl, celeryUrl, SONIQUEBAY_CLIENT);
  });

  after(async () => {
    client?.close();
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    listener?.disconnect();
    await redis?.flushdb();
    const cleanup = new Redis(base!);
    const keys = await cleanup.keys(`${prefix}:*`);
    if (keys.length > 0) await cleanup.del(...keys);
    cleanup.disconnect();
    redis?.disconnect();
    await sb?.drop();
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const q = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => sb.pool.query<T>(text, params).then((r) => r.rows);

  /** SoniqueBay's API: send the scan, then open its scan_sessions row with task_id = the message id */
  const apiScan = async () => {
    const id = await client.send('scan.discovery', { app: 'api', args: [manifest.root], queue: 'scan' });
    await q('INSERT INTO scan_sessions (id, directory, status, processed_files, task_id) VALUES ($1, $2, $3, 0, $4)', [randomUUID(), manifest.root, 'running', id]);
    return id;
  };

  const progressOf = (id: string) => events.filter((e) => e.channel === 'progress' && e.event.task_id === id).map((e) => e.event);

  /** the scan is over for SoniqueBay's UI: percent 100 under its id */
  const scanEnd = (id: string) =>
    until(`the end of scan ${id}`, async () => progressOf(id).find((e) => e.percent === 100), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; progress: ${JSON.stringify(progressOf(id))}\nworker log:\n${log.slice(-4000)}`);
    });

  /** every queue of ours idle (the sink's follow-up runs included), so SoniqueBay's tables are settled */
  const settled = async () => {
    const queues = QUEUE_NAMES.map((name) => new Queue(name, { connection: { url: celeryUrl }, prefix }));
    try {
      await until('our queues to go idle', async () => {
        for (const queue of queues) {
          const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          if (Object.values(c).some((n) => n > 0)) return undefined;
        }
        return true;
      }, 60_000);
    } finally {
      await Promise.all(queues.map((queue) => queue.close()));
    }
  };

  const ours = async () => {
    const database = openDatabase({ dataDir: path.join(dir, 'data') });
    try {
      const db = database.db;
      return {
        tracks: await db
          .selectFrom('tracks as t')
          .innerJoin('artists as a', 'a.id', 't.artist_id')
          .leftJoin('albums as al', 'al.id', 't.album_id')
          .leftJoin('artists as aa', 'aa.id', 'al.album_artist_id')
          .select(['t.id', 't.path', 't.title', 't.bpm_tag', 't.ab_tags', 't.file_size', 'a.name as artist', 'al.title as album', 'aa.name as albumArtist'])
          .where('t.missing_since', 'is', null)
          .execute(),
        genres: await db.selectFrom('track_genres as tg').innerJoin('genres as g', 'g.id', 'tg.genre_id').innerJoin('tracks as t', 't.id', 'tg.track_id').select(['t.path', 'g.name']).execute(),
        albumsWithArt: Number((await db.selectFrom('covers').select((eb) => eb.fn.count('entity_id').distinct().as('n')).where('entity_type', '=', 'album').executeTakeFirstOrThrow()).n),
        map: await db.selectFrom('soniquebay_ids').select(['entity_type', 'our_id', 'sb_id']).execute(),
      };
    } finally {
      await database.close();
    }
  };

  it("scan.discovery as SoniqueBay's API sends it fills SoniqueBay's tables; progress ends at 100 % after the last batch", async () => {
    const id = await apiScan();
    const answer = await client.get(id, 60);
    assert.equal(answer.status, 'SUCCESS', JSON.stringify(answer));
    await scanEnd(id);
    await settled();

    // progress: ordered, under the Celery id, never "done" before the end, the end once and last
    const progress = progressOf(id);
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    const last = progress[progress.length - 1]!;
    assert.equal(last.percent, 100);
    for (const e of progress.slice(0, -1)) {
      assert.ok(e.percent! < 100 && e.current! < e.total!, `early end: ${JSON.stringify(e)}`);
    }
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.percent! >= progress[i - 1]!.percent!, 'percent went back');
    assert.ok(events.some((e) => e.channel === 'notifications' && e.event.type === 'library_update'), 'no library_update');
    // the session SoniqueBay opened is closed with its counts (else it would never send another scan of that folder)
    const [session] = await q<{ status: string; processed_files: number }>('SELECT status, processed_files FROM scan_sessions WHERE task_id = $1', [id]);
    assert.deepEqual(session, { status: 'completed', processed_files: manifest.files.length });

    const mine = await ours();
    const sbTracks = await q<{ id: number; path: string; title: string; artist: string; album: string | null; album_artist: string | null; file_size: number | null; file_type: string }>(
      `SELECT t.id, t.path, t.title, a.name AS artist, al.title AS album, aa.name AS album_artist, t.file_size, t.file_type
         FROM tracks t JOIN artists a ON a.id = t.track_artist_id LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN artists aa ON aa.id = al.album_artist_id`,
    );
    // exactly our tracks, with their artist, album and album artist
    assert.deepEqual(sbTracks.map((t) => t.path).sort(), mine.tracks.map((t) => t.path).sort());
    const byPath = new Map(mine.tracks.map((t) => [t.path, t]));
    for (const t of sbTracks) {
      const o = byPath.get(t.path)!;
      assert.deepEqual([t.title, t.artist, t.album, t.album_artist, t.file_size], [o.title, o.artist, o.album, o.albumArtist, o.file_size], t.path);
      assert.match(t.file_type, /^audio\/|^unknown$/);
    }
    // and what the files say (the fixture's manifest): artists, albums, genres by name
    for (const [file, expected] of Object.entries(manifest.tracks)) {
      const t = sbTracks.find((s) => s.path === file);
      assert.ok(t, `${file} is not in SoniqueBay`);
      assert.equal(nameKey(t.artist), nameKey(expected.artists[0]!), file);
      assert.equal(nameKey(t.album ?? ''), nameKey(expected.album), file);
      assert.equal(nameKey(t.album_artist ?? ''), nameKey(expected.albumArtist), file);
    }
    const sbGenres = await q<{ path: string; name: string }>('SELECT t.path, g.name FROM track_genres tg JOIN tracks t ON t.id = tg.track_id JOIN genres g ON g.id = tg.genre_id');
    const pairs = (rows: { path: string; name: string }[]) => rows.map((r) => `${r.path}|${nameKey(r.name)}`).sort();
    assert.deepEqual(pairs(sbGenres), pairs(mine.genres));
    // link tables have no key: no pair twice
    const [dupes] = await q<{ n: string }>('SELECT count(*)::text AS n FROM (SELECT track_id, genre_id FROM track_genres GROUP BY 1, 2 HAVING count(*) > 1) d');
    assert.equal(dupes!.n, '0');
    // artists: every track artist and album artist; a guest (featured) artist is text in featured_artists
    const sbArtists = (await q<{ name: string }>('SELECT name FROM artists')).map((a) => a.name).sort();
    assert.deepEqual(sbArtists, [...new Set(mine.tracks.flatMap((t) => [t.artist, ...(t.albumArtist ? [t.albumArtist] : [])]))].sort());
    const credited = Object.values(manifest.tracks).flatMap((t) => [t.artists[0]!, t.albumArtist]);
    // (files the manifest lists as "track or error" may add an artist, e.g. an untagged one)
    assert.deepEqual(credited.map(nameKey).filter((k) => !sbArtists.map(nameKey).includes(k)), []);
    const guests = Object.entries(manifest.tracks).filter(([, t]) => t.artists.length > 1);
    assert.ok(guests.length > 0, 'the fixture library has featured artists');
    for (const [file, t] of guests) {
      const [row] = await q<{ featured_artists: string }>('SELECT featured_artists FROM tracks WHERE path = $1', [file]);
      assert.deepEqual(row!.featured_artists.split(', ').map(nameKey), t.artists.slice(1).map(nameKey), file);
    }
    const sbAlbums = await q<{ k: string }>('SELECT al.title || $1 || a.name AS k FROM albums al JOIN artists a ON a.id = al.album_artist_id', ['|']);
    assert.deepEqual(sbAlbums.map((a) => a.k).sort(), [...new Set(mine.tracks.map((t) => `${t.album}|${t.albumArtist}`))].sort());
    const albumKeys = sbAlbums.map((a) => a.k.split('|').map(nameKey).join('|'));
    assert.deepEqual(manifest.albumKeys.filter((k) => !albumKeys.includes(k)), []);

    // audio features: the BPM the files carry (analysis is off here; the fixture writes ab:lo:rhythm:bpm)
    const features = await q<{ path: string; bpm: number | null }>('SELECT t.path, f.bpm FROM track_audio_features f JOIN tracks t ON t.id = f.track_id');
    const tagged = mine.tracks.flatMap((t) => {
      const bpm = t.bpm_tag ?? (t.ab_tags ? Number((JSON.parse(t.ab_tags) as Record<string, string>)['ab:lo:rhythm:bpm']) : NaN);
      return Number.isFinite(bpm) ? [`${t.path}=${bpm}`] : [];
    });
    assert.ok(tagged.length > 0, 'the fixture library has BPM tags');
    assert.deepEqual(features.filter((f) => f.bpm !== null).map((f) => `${f.path}=${f.bpm}`).sort(), tagged.sort());

    // covers: one per album that has art, upper-case type, raw base64 of a JPEG, the URL the API serves
    const covers = await q<{ entity_type: string; entity_id: number; cover_data: string; mime_type: string; url: string }>(`SELECT entity_type::text, entity_id, cover_data, mime_type, url FROM covers WHERE entity_type = 'ALBUM'`);
    assert.equal(covers.length, mine.albumsWithArt);
    assert.ok(covers.length > 0);
    for (const c of covers) {
      assert.equal(Buffer.from(c.cover_data, 'base64').subarray(0, 3).toString('hex'), 'ffd8ff');
      assert.equal(c.mime_type, 'image/jpeg');
      assert.equal(c.url, `/covers/album/${c.entity_id}`);
    }

    // the query SoniqueBay's UI runs for an album's tracks (track_artist_id = artist AND album_id = album)
    const [album] = await q<{ id: number; album_artist_id: number; title: string }>('SELECT id, album_artist_id, title FROM albums ORDER BY id LIMIT 1');
    const listed = await q<{ path: string }>('SELECT path FROM tracks WHERE track_artist_id = $1 AND album_id = $2 ORDER BY path', [album!.album_artist_id, album!.id]);
    const [artistName] = await q<{ name: string }>('SELECT name FROM artists WHERE id = $1', [album!.album_artist_id]);
    const expectedPaths = mine.tracks.filter((t) => t.album === album!.title && t.albumArtist === artistName!.name && t.artist === artistName!.name).map((t) => t.path).sort();
    assert.ok(expectedPaths.length > 0);
    assert.deepEqual(listed.map((t) => t.path), expectedPaths);
    // search columns are left to SoniqueBay's triggers, which still fill them
    const word = sbTracks[0]!.title.split(/\s+/).find((w) => /^[a-z]{3,}$/i.test(w)) ?? 'track';
    const [found] = await q<{ n: string }>(`SELECT count(*)::text AS n FROM tracks WHERE search @@ plainto_tsquery('english', $1)`, [word]);
    assert.ok(Number(found!.n) > 0, `search for ${word}`);
  });

  it('a second scan changes no row; a deleted file leaves SoniqueBay too', async () => {
    const before = await snapshot(sb.pool);
    const again = await apiScan();
    assert.equal((await client.get(again, 60)).status, 'SUCCESS');
    await scanEnd(again);
    await settled();
    assert.deepEqual(await snapshot(sb.pool), before);

    // delete one file of an album that keeps other tracks
    const mine = await ours();
    const victim = mine.tracks.find((t) => mine.tracks.some((o) => o.path !== t.path && o.album === t.album && o.albumArtist === t.albumArtist))!;
    fs.rmSync(victim.path);
    const third = await apiScan();
    assert.equal((await client.get(third, 60)).status, 'SUCCESS');
    await scanEnd(third);
    await settled();
    assert.deepEqual(await q('SELECT id FROM tracks WHERE path = $1', [victim.path]), []);
    const [{ n }] = (await q<{ n: string }>('SELECT count(*)::text AS n FROM tracks')) as [{ n: string }];
    assert.equal(Number(n), mine.tracks.length - 1);
  });

  it("answers every other call of SoniqueBay's API (§1.2) with SUCCESS or a clear FAILURE, none left PENDING", async () => {
    const [artist] = await q<{ id: number; name: string }>('SELECT id, name FROM artists ORDER BY id LIMIT 1');
    const allArtists = (await q<{ id: number }>('SELECT id FROM artists ORDER BY id')).map((a) => a.id);
    const allAlbums = (await q<{ id: number }>('SELECT id FROM albums ORDER BY id')).map((a) => a.id);
    const [withCover] = await q<{ entity_id: number }>(`SELECT entity_id FROM covers WHERE entity_type = 'ALBUM' ORDER BY entity_id LIMIT 1`);
    const paths = (await q<{ path: string }>('SELECT path FROM tracks ORDER BY path LIMIT 3')).map((t) => t.path);
    similarNames = (await q<{ name: string }>('SELECT name FROM artists WHERE id <> $1 ORDER BY id LIMIT 3', [artist!.id])).map((a) => a.name);
    // SoniqueBay lost this album's cover row: the rescan call with its album id stores it again
    await q(`DELETE FROM covers WHERE entity_type = 'ALBUM' AND entity_id = $1`, [withCover!.entity_id]);

    const calls: [string, Parameters<CeleryClient['send']>[1] & { name: string }, 'SUCCESS' | RegExp][] = [
      ['2 artist images', { name: 'covers.process_artist_images', app: 'api', args: [[artist!.id]], queue: 'deferred' }, 'SUCCESS'],
      ['3 album covers', { name: 'covers.process_album_covers', app: 'api', args: [[withCover!.entity_id]], queue: 'deferred' }, 'SUCCESS'],
      ['4 all artist images', { name: 'covers.process_artist_images', app: 'api', args: [allArtists], queue: 'deferred' }, 'SUCCESS'],
      ['4 no artist at all', { name: 'covers.process_artist_images', app: 'api', args: [[]], queue: 'deferred' }, 'SUCCESS'],
      ['5 all album covers', { name: 'covers.process_album_covers', app: 'api', args: [allAlbums], queue: 'deferred' }, 'SUCCESS'],
      ['6 embedded covers by path', { name: 'covers.extract_embedded', app: 'api', args: [paths], queue: 'deferred' }, 'SUCCESS'],
      ['7 artist rescan (worker app, gzip, priority kwarg)', { name: 'covers.process_artist_images', app: 'worker', args: [[artist!.id]], kwargs: { priority: 'normal' } }, 'SUCCESS'],
      ['8 album rescan (worker app, gzip, priority kwarg)', { name: 'covers.process_album_covers', app: 'worker', args: [[withCover!.entity_id]], kwargs: { priority: 'normal' } }, 'SUCCESS'],
      ['9 track rescan by path (worker app)', { name: 'covers.extract_embedded', app: 'worker', args: [[paths[0]]] }, 'SUCCESS'],
      ['10 Last.fm info', { name: 'lastfm.fetch_artist_info', app: 'api', args: [artist!.id], queue: 'deferred' }, 'SUCCESS'],
      ['11 Last.fm similar', { name: 'lastfm.fetch_similar_artists', app: 'api', args: [artist!.id, 10], queue: 'deferred' }, 'SUCCESS'],
      ['12 GMM clustering', { name: 'gmm.cluster_all_artists', app: 'api', args: [false], queue: 'gmm', priority: 5 }, /^gmm\.cluster_all_artists is not supported by the SoniqueBay worker: .*512-d/],
      ['13 GMM refresh', { name: 'gmm.refresh_stale_clusters', app: 'api', args: [24], queue: 'gmm', priority: 3 }, /^gmm\.refresh_stale_clusters is not supported/],
      ['14 synonyms of a tag', { name: 'synonym.generate_synonyms_for_tag', app: 'api', args: ['genre', 'rock'], kwargs: { force: false }, queue: 'synonym', priority: 5 }, /^synonym\.generate_synonyms_for_tag is not supported/],
      ['15 all synonyms', { name: 'synonym.generate_all_synonyms', app: 'api', args: ['genre'], queue: 'synonym', priority: 3 }, /^synonym\.generate_all_synonyms is not supported/],
      ['16 admin retry of a Python task', { name: 'backend_worker.celery_tasks.process_audio_file', app: 'worker', args: [paths[0]] }, /is a retry of a task of the Python worker/],
      ['unknown SoniqueBay album id', { name: 'covers.process_album_covers', app: 'api', args: [[999_999]], queue: 'deferred' }, /unknown SoniqueBay album id 999999: not in the id map/],
      ['a MIR task', { name: 'mir.process_track', app: 'worker', args: [1] }, /^mir\.process_track is not supported/],
      // a Python stage still running (mixed deployment, §1.3): worker app, gzip, routed queues, priorities
      ['a Python stage asking for analysis', { name: 'backend_worker.tasks.audio_analysis_tasks.analyze_track_audio_features', app: 'worker', args: [null, paths[1], { bpm: '120' }], queue: 'audio_analysis', priority: 5 }, 'SUCCESS'],
      ['a Python discovery sending an extract batch', { name: 'metadata.extract_batch', app: 'worker', args: [paths.slice(0, 2), 'batch_0_1'], queue: 'extract', priority: 5 }, 'SUCCESS'],
      ['a Python extract stage sending metadata dicts', { name: 'batch.process_entities', app: 'worker', args: [[{ path: paths[2], title: 'x', album: 'y', file_type: 'audio/mpeg' }]], queue: 'batch', priority: 5 }, 'SUCCESS'],
      ['a Python batch stage sending an insert', { name: 'insert.direct_batch', app: 'worker', args: [{ task_id: 't', batch_id: 'b', artists: [], albums: [], tracks: [{ path: paths[0], title: 'x' }], metadata_count: 1, batching_time: 0.1, success: true }], queue: 'insert', priority: 7 }, 'SUCCESS'],
      ['the insert stage asking for enrichment', { name: 'worker_deferred_enrichment.process_enrichment_batch', app: 'worker', kwargs: { batch_size: 5 } }, 'SUCCESS'],
      ['the tag monitor asking for a retrain', { name: 'trigger_vectorizer_retrain', app: 'worker', args: [{ trigger_reason: 'new_genres', priority: 'high', message: 'm', details: {}, force: false }] }, 'SUCCESS'],
    ];
    const ids = await Promise.all(calls.map(([, { name, ...options }]) => client.send(name, options)));
    const answers: CeleryAnswer[] = await Promise.all(ids.map((id) => client.get(id, 60)));
    calls.forEach(([what, , expected], i) => {
      const answer = answers[i]!;
      assert.notEqual(answer.status, 'PENDING', what);
      if (expected === 'SUCCESS') assert.equal(answer.status, 'SUCCESS', `${what}: ${JSON.stringify(answer)}`);
      else {
        assert.equal(answer.status, 'FAILURE', `${what}: ${JSON.stringify(answer)}`);
        assert.match(answer.error!.message, expected, what);
      }
    });

    // the retrain SoniqueBay asked for, on its notifications channel
    const retrain = events.filter((e) => e.channel === 'notifications' && e.event.type === 'vectorization_progress').map((e) => (e.event as unknown as { stage: string; trigger_reason: string }));
    assert.deepEqual(retrain.map((e) => [e.stage, e.trigger_reason]), [['retrain_starting', 'new_genres'], ['retrain_completed', 'new_genres']]);
    // the album cover is back, once
    const covers = await q<{ url: string }>(`SELECT url FROM covers WHERE entity_type = 'ALBUM' AND entity_id = $1`, [withCover!.entity_id]);
    assert.deepEqual(covers, [{ url: `/covers/album/${withCover!.entity_id}` }]);
    // Last.fm's answers, in the artist's columns and the similar-artists table (artists SoniqueBay has)
    const [info] = await q<{ lastfm_url: string; lastfm_listeners: number; lastfm_playcount: number; lastfm_tags: string; lastfm_similar_artists_fetched: number }>(
      'SELECT lastfm_url, lastfm_listeners, lastfm_playcount, lastfm_tags, lastfm_similar_artists_fetched FROM artists WHERE id = $1',
      [artist!.id],
    );
    assert.deepEqual(info, { lastfm_url: `https://www.last.fm/music/${encodeURIComponent(artist!.name)}`, lastfm_listeners: 123456, lastfm_playcount: 7890123, lastfm_tags: '["rock","indie"]', lastfm_similar_artists_fetched: 1 });
    const similar = await q<{ name: string; weight: number }>('SELECT a.name, s.weight FROM artist_similar s JOIN artists a ON a.id = s.similar_artist_id WHERE s.artist_id = $1 ORDER BY s.weight DESC', [artist!.id]);
    assert.deepEqual(similar.map((s) => s.name), similarNames);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    const value = await read();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}
