// The soniquebay command as a user runs it, on a fresh data folder.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { TASKS } from '../../src/tasks.js';
import { generateLibrary } from '../../scripts/fixtures.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime } from '../../src/runtime.js';
import { redisUrl, testLogger } from '../helpers/brokers.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');

function soniquebay(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, SONIQUEBAY_LOG_LEVEL: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function dataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-'));
}

describe('soniquebay CLI (embedded default)', () => {
  it('lists every task with its queue as JSON', () => {
    const { code, stdout } = soniquebay(['tasks', '--json']);
    assert.equal(code, 0);
    const { tasks, aliases } = JSON.parse(stdout) as { tasks: { name: string; queue: string; payload: object }[]; aliases: unknown[] };
    assert.equal(tasks.length, TASKS.length);
    assert.equal(tasks.find((t) => t.name === 'soniquebay.sync')?.queue, 'batch');
    assert.equal(tasks.find((t) => t.name === 'scan.discovery')?.queue, 'scan');
    assert.equal((tasks.find((t) => t.name === 'scan.discovery') as { available?: boolean })?.available, true);
    assert.ok(aliases.length >= 20);
  });

  it('refuses a data folder with no library, and with --init reports the queue counts of a new one (SQLite in WAL mode)', () => {
    const dir = dataDir();
    const refused = soniquebay(['jobs', '--json'], { SONIQUEBAY_DATA_DIR: dir });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: no library in .*--init creates an empty one\n$/);
    assert.equal(fs.existsSync(path.join(dir, 'soniquebay.db')), false);
    const { code, stdout } = soniquebay(['--init', 'jobs', '--json'], { SONIQUEBAY_DATA_DIR: dir });
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as { broker: string; counts: Record<string, Record<string, number>> };
    assert.equal(report.broker, 'embedded');
    assert.deepEqual(Object.keys(report.counts).sort(), ['batch', 'covers', 'deferred', 'extract', 'maintenance', 'metadata', 'scan', 'vectorization']);
    const db = new Database(path.join(dir, 'soniquebay.db'), { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('refuses an unknown task and a bad payload with a clear message and exit code 1', () => {
    const dir = dataDir();
    const unknown = soniquebay(['enqueue', 'scan.discovry', '{"root":"/m"}'], { SONIQUEBAY_DATA_DIR: dir });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown task "scan\.discovry" \(did you mean "scan\.discovery"\?\)/);
    const badJson = soniquebay(['enqueue', 'scan.discovery', '{root:'], { SONIQUEBAY_DATA_DIR: dir });
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /payload is not valid JSON/);
  });

  it('names the bad setting and exits 2 on a configuration error', () => {
    const { code, stderr } = soniquebay(['jobs'], { SONIQUEBAY_CONCURRENCY: 'extract=many' });
    assert.equal(code, 2);
    assert.match(stderr, /SONIQUEBAY_CONCURRENCY="extract=many"/);
  });

  it('scans a folder, then shows its stats, finds its tracks and lists the unreadable files', async () => {
    const dir = dataDir();
    const manifest = await generateLibrary({ tracks: 40, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
    const env = { SONIQUEBAY_DATA_DIR: path.join(dir, 'data') };
    const scanned = soniquebay(['scan', manifest.root, '--json'], env);
    assert.equal(scanned.code, 0, scanned.stderr);
    const summary = JSON.parse(scanned.stdout) as { status: string; discovered: number; failed: number; inserted: number };
    assert.equal(summary.status, 'completed');
    assert.equal(summary.discovered, manifest.files.length);
    assert.equal(summary.inserted + summary.failed, manifest.files.length);

    const stats = JSON.parse(soniquebay(['library', 'stats', '--json'], env).stdout) as { tracks: number; artists: number; albums: number; unreadableFiles: number };
    assert.equal(stats.tracks, summary.inserted);
    assert.equal(stats.artists, manifest.artistKeys.length);
    assert.equal(stats.albums, manifest.albumKeys.length);
    assert.equal(stats.unreadableFiles, summary.failed);

    // local art is linked by the scan, its display sizes are left for `run` (deferred.render_images)
    const sqlite = new Database(path.join(env.SONIQUEBAY_DATA_DIR, 'soniquebay.db'), { readonly: true });
    try {
      const linked = sqlite.prepare("select count(*) as n from covers where entity_type = 'album'").get() as { n: number };
      assert.equal(linked.n, Object.values(manifest.albumArt).filter((art) => art !== null).length, 'every album with local art has its cover after the scan');
      const images = sqlite.prepare('select hash, rendered_at from images').all() as { hash: string; rendered_at: number | null }[];
      assert.ok(images.length > 0 && images.every((i) => i.rendered_at === null), 'nothing rendered during the scan');
      const queued = sqlite.prepare("select count(*) as n from queue_jobs where name = 'deferred.render_images' and state = 'waiting'").get() as { n: number };
      assert.equal(queued.n, 1, 'the rendering is queued for run/serve, once (not once per covers batch)');
    } finally {
      sqlite.close();
    }

    const title = Object.values(manifest.tracks)[2]!.title;
    const found = JSON.parse(soniquebay(['tracks', '--search', title, '--json'], env).stdout) as { title: string }[];
    assert.ok(found.some((t) => t.title === title));
    const errors = JSON.parse(soniquebay(['library', 'errors', '--json'], env).stdout) as { path: string; message: string }[];
    assert.ok(errors.some((e) => /empty file/.test(e.message)));

    const rescan = JSON.parse(soniquebay(['scan', manifest.root, '--json'], env).stdout) as { unchanged: number; extracted: number };
    assert.equal(rescan.unchanged, manifest.files.length);
    assert.equal(rescan.extracted, 0);

    // a deleted file: its track is missing (listed, counted apart), then purged on request
    const gone = manifest.files.find((f) => f.expect === 'track')!.path;
    fs.rmSync(gone);
    assert.equal((JSON.parse(soniquebay(['scan', manifest.root, '--json'], env).stdout) as { removed: number }).removed, 1);
    const missing = JSON.parse(soniquebay(['library', 'missing', '--json'], env).stdout) as { path: string; missingSince: number }[];
    assert.deepEqual(missing.map((m) => m.path), [gone]);
    assert.equal((JSON.parse(soniquebay(['library', 'stats', '--json'], env).stdout) as { tracks: number; missingTracks: number }).missingTracks, 1);
    assert.deepEqual(JSON.parse(soniquebay(['library', 'purge-missing', '--json'], env).stdout), { purged: 1 });
    assert.deepEqual(JSON.parse(soniquebay(['library', 'missing', '--json'], env).stdout), []);
  });

  it('analyses each track once when `analyze` follows a scan that queued the analysis, and again with --all', () => {
    const dir = dataDir();
    const music = path.join(dir, 'music');
    fs.mkdirSync(music);
    for (const [i, f] of [220, 330, 440].entries()) {
      const graph = `sine=f=${f}:d=4,volume='0.2+0.6*lt(mod(t,0.5),0.1)':eval=frame`;
      spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', graph, '-ac', '2', '-metadata', `title=Tone ${i}`, '-metadata', 'artist=Tones', path.join(music, `${i}.flac`)]);
    }
    const env = { SONIQUEBAY_DATA_DIR: path.join(dir, 'data') };
    assert.equal(soniquebay(['scan', music, '--json'], env).code, 0);
    // the scan queued the analysis of the three tracks for `run`; `analyze` runs that job and its own
    const analyze = (args: string[]) => {
      const run = soniquebay(['analyze', ...args, '--json'], env);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as { tracks: number; analysed: number; current: number; failed: number };
    };
    const first = analyze([]);
    assert.deepEqual([first.tracks, first.analysed + first.current, first.failed], [3, 3, 0]);
    const analysedByJobs = () => {
      const sqlite = new Database(path.join(env.SONIQUEBAY_DATA_DIR, 'soniquebay.db'), { readonly: true });
      try {
        const rows = sqlite.prepare("select result from queue_jobs where name = 'metadata.analyze_audio_batch' and state = 'completed'").all() as { result: string }[];
        return rows.reduce((n, r) => n + (JSON.parse(r.result) as { analysed: number }).analysed, 0);
      } finally {
        sqlite.close();
      }
    };
    assert.equal(analysedByJobs(), 3, 'each track analysed once, by one job or the other');
    assert.deepEqual(analyze([]), { ...analyze([]), tracks: 0, analysed: 0 }, 'nothing left to analyse');
    const again = analyze(['--all']);
    assert.deepEqual([again.tracks, again.analysed, again.current], [3, 3, 0]);
    assert.equal(analysedByJobs(), 6);
  });

  it('trains the vectors, shows their status, and answers similar, playlist and path', async () => {
    const dir = dataDir();
    const env = { SONIQUEBAY_DATA_DIR: dir };
    const runtime = await openRuntime({ ...loadConfig({}), dataDir: dir, outsideLookups: false }, testLogger);
    const tracks = await insertSyntheticLibrary(runtime.database.db, 10);
    await runtime.close();
    const before = soniquebay(['similar', String(tracks[0]!.id)], env);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /no vector model yet/);

    const trained = soniquebay(['vectors', 'train', '--json'], env);
    assert.equal(trained.code, 0, trained.stderr);
    assert.equal((JSON.parse(trained.stdout) as { tracks: number }).tracks, tracks.length);
    const status = JSON.parse(soniquebay(['vectors', 'status', '--json'], env).stdout) as { coverage: number; active: { vectors: number } };
    assert.deepEqual([status.coverage, status.active.vectors], [1, tracks.length]);

    const house = tracks.filter((t) => t.group === 'house');
    const similarTo = JSON.parse(soniquebay(['similar', String(house[0]!.id), '-k', '5', '--exclude-artist', '--json'], env).stdout) as { tracks: { trackId: number; artistId: number }[] };
    assert.equal(similarTo.tracks.length, 5);
    assert.ok(similarTo.tracks.every((t) => t.artistId !== house[0]!.artistId && house.some((h) => h.id === t.trackId)));
    const radio = JSON.parse(soniquebay(['playlist', '--seed', String(house[0]!.id), String(house[1]!.id), '--length', '8', '--json'], env).stdout) as { tracks: { trackId: number }[] };
    assert.deepEqual(radio.tracks.slice(0, 2).map((t) => t.trackId), [house[0]!.id, house[1]!.id]);
    assert.equal(radio.tracks.length, 8);
    const route = JSON.parse(soniquebay(['path', String(house[0]!.id), String(tracks[tracks.length - 1]!.id), '--length', '5', '--json'], env).stdout) as { tracks: unknown[] };
    assert.equal(route.tracks.length, 5);
    const table = soniquebay(['similar', String(house[0]!.id), '-k', '3'], env);
    assert.match(table.stdout, /similarity/);

    const bad = soniquebay(['similar', String(house[0]!.id), '--bpm', 'fast'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--bpm takes a range like/);
    assert.match(soniquebay(['similar', '999999'], env).stderr, /track 999999 does not exist/);
  });

  it('runs in one process until SIGTERM, then stops cleanly', async () => {
    const dir = dataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run'], {
      env: { ...process.env, SONIQUEBAY_DATA_DIR: dir, SONIQUEBAY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!log.includes('worker started')) {
      if (Date.now() > deadline) throw new Error(`no start line in: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.match(log, /"broker":"embedded"/);
    assert.match(log, /worker stopped/);
  });
});

describe('soniquebay CLI (BullMQ broker)', { skip: redisUrl() ? false : 'REDIS_URL not set' }, () => {
  it('uses Redis when SONIQUEBAY_BROKER_URL is set', async () => {
    const prefix = `sbtest-${randomUUID().slice(0, 8)}`;
    const { code, stdout, stderr } = soniquebay(['jobs', '--json'], { SONIQUEBAY_DATA_DIR: dataDir(), SONIQUEBAY_BROKER_URL: redisUrl()!, SONIQUEBAY_REDIS_PREFIX: prefix });
    assert.equal(code, 0, stderr);
    assert.equal((JSON.parse(stdout) as { broker: string }).broker, 'bullmq');
    const redis = new Redis(redisUrl()!);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
});
