// The HTTP API on a real scan of a generated library: every route, bad input, auth, path
// confinement, images, and the live events of the scan over Server-Sent Events.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { buildApi } from '../../src/api/server.js';
import type { WorkerHandle } from '../../src/broker/port.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { drain } from '../helpers/runtimes.js';

interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** reads Server-Sent Events from a live server until `done` says so (or the time runs out) */
async function readEvents(url: string, done: (events: SseEvent[]) => boolean, headers: Record<string, string> = {}, timeoutMs = 60_000): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
        if (fields.data) events.push({ id: Number(fields.id ?? 0), event: fields.event ?? 'message', data: JSON.parse(fields.data) as Record<string, unknown> });
      }
      if (done(events)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('HTTP API', () => {
  let dir: string;
  let manifest: FixtureManifest;
  let runtime: Runtime;
  let worker: WorkerHandle;
  let app: FastifyInstance;
  let base: string;
  let scanId: string;
  const scanEvents: SseEvent[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-api-'));
    manifest = await generateLibrary({ tracks: 800, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
    fs.mkdirSync(path.join(dir, 'outside'));
    fs.symlinkSync(path.join(dir, 'outside'), path.join(manifest.root, 'escape'));
    runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false, analysis: false, libraryRoots: [manifest.root] }, testLogger);
    worker = await runtime.broker.startWorker();
    app = await buildApi({ runtime, host: '127.0.0.1' });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await worker.close();
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports liveness, readiness and Prometheus metrics, and serves its OpenAPI description at /docs', async () => {
    assert.equal((await app.inject('/health/live')).statusCode, 200);
    const ready = await app.inject('/health/ready');
    assert.deepEqual(ready.json(), { status: 'ok', checks: { database: 'ok', broker: 'ok' } });
    const metrics = await app.inject('/metrics');
    assert.match(metrics.body, /^soniquebay_jobs\{queue="scan",state="waiting"\} \d+$/m);
    assert.match(metrics.body, /^soniquebay_library_items\{kind="tracks"\} \d+$/m);
    assert.match(metrics.body, /^# TYPE soniquebay_job_duration_seconds gauge$/m);
    const spec = (await app.inject('/docs/json')).json() as { openapi: string; paths: Record<string, unknown> };
    assert.match(spec.openapi, /^3\./);
    for (const route of ['/scans', '/tracks', '/tracks/{id}/similar', '/events', '/jobs', '/tasks/{name}']) assert.ok(spec.paths[route], `${route} documented`);
    assert.equal((await app.inject('/docs')).statusCode < 400, true);
  });

  it('refuses folders outside the library roots: other paths, .., a symlink out, relative paths', async () => {
    const post = (root: unknown) => app.inject({ method: 'POST', url: '/scans', payload: { root } });
    assert.equal((await post('/etc')).statusCode, 403);
    assert.equal((await post(`${manifest.root}/../outside`)).statusCode, 403);
    const escaped = await post(path.join(manifest.root, 'escape'));
    assert.equal(escaped.statusCode, 403);
    assert.match(escaped.json().message, /outside the library roots/);
    assert.equal((await post('music')).statusCode, 400);
    assert.equal((await post(path.join(manifest.root, 'no such folder'))).statusCode, 400);
    assert.equal((await post(42)).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/scans', payload: { root: manifest.root, extra: 1 } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/scans', payload: 'not json', headers: { 'content-type': 'application/json' } })).statusCode, 400);
  });

  it('starts a scan and streams its progress over SSE, in order, up to 100 %', async () => {
    const listening = readEvents(`${base}/events`, (events) => events.some((e) => e.event === 'scan' && e.data.status === 'completed'));
    await new Promise((r) => setTimeout(r, 100));
    const started = await app.inject({ method: 'POST', url: '/scans', payload: { root: manifest.root } });
    assert.equal(started.statusCode, 202, started.body);
    scanId = (started.json() as { scanId: string }).scanId;
    const events = await listening;
    scanEvents.push(...events);
    const scans = events.filter((e) => e.event === 'scan' && e.data.scanId === scanId);
    assert.ok(scans.length >= 2, `${scans.length} scan events`);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.id > events[i - 1]!.id, 'ids increase');
    for (let i = 1; i < scans.length; i++) assert.ok((scans[i]!.data.percent as number) >= (scans[i - 1]!.data.percent as number), 'progress never goes back');
    assert.equal(scans.at(-1)!.data.percent, 100);
    assert.ok(events.some((e) => e.event === 'job' && e.data.scanId === scanId), 'job progress carries the scan id');
    // each batch written tells the dashboard the library changed (written by the extract job here: its worker takes every queue)
    const written = events.filter((e) => e.event === 'library').map((e) => e.data.result as { inserted: number });
    assert.ok(written.length > 0, 'library events');
    const tracks = await runtime.database.db.selectFrom('tracks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(written.reduce((sum, r) => sum + r.inserted, 0), Number(tracks.n), 'every track inserted is told once');
    const status = (await app.inject(`/scans/${scanId}`)).json() as { status: string; discovered: number };
    assert.deepEqual([status.status, status.discovered], ['completed', manifest.files.length]);
    assert.equal((await app.inject('/scans/no-such-scan')).statusCode, 404);
    assert.ok(((await app.inject('/scans')).json() as { items: { scanId: string }[] }).items.some((s) => s.scanId === scanId));
  });

  it('replays what a client missed when it reconnects with Last-Event-ID', async () => {
    const cut = scanEvents[Math.floor(scanEvents.length / 2)]!.id;
    const replay = await readEvents(`${base}/events`, (events) => events.length >= scanEvents.filter((e) => e.id > cut).length, { 'last-event-id': String(cut) }, 5_000);
    assert.ok(replay.length > 0 && replay[0]!.id === cut + 1, `replay starts after ${cut}`);
    // an id from another process (or before a restart): told to resync
    const stranger = await readEvents(`${base}/events`, (events) => events.length >= 1, { 'last-event-id': '99999999' }, 5_000);
    assert.equal(stranger[0]!.event, 'resync');
  });

  it('lists and searches tracks, albums and artists with paging, and shows one track with its cover', async () => {
    await drain(runtime.broker);
    const page = (await app.inject('/tracks?limit=5&offset=0')).json() as { items: { id: number; title: string }[] };
    assert.equal(page.items.length, 5);
    const next = (await app.inject('/tracks?limit=5&offset=5')).json() as { items: { id: number }[] };
    assert.ok(next.items.every((t) => !page.items.some((p) => p.id === t.id)));
    const title = Object.values(manifest.tracks)[3]!.title;
    const found = (await app.inject(`/tracks?search=${encodeURIComponent(title)}`)).json() as { items: { title: string }[] };
    assert.ok(found.items.some((t) => t.title === title));
    assert.equal(((await app.inject('/tracks?search=%25%25%25')).json() as { items: unknown[] }).items.length, 0, '% is literal');
    assert.equal((await app.inject('/tracks?limit=100000')).statusCode, 400);
    assert.equal((await app.inject('/tracks?limit=abc')).statusCode, 400);
    assert.equal((await app.inject('/tracks/0')).statusCode, 400);
    assert.equal((await app.inject('/tracks/99999999')).statusCode, 404);
    const albums = (await app.inject('/albums?limit=500')).json() as { items: { id: number }[] };
    assert.equal(albums.items.length, manifest.albumKeys.length);
    const artists = (await app.inject('/artists?limit=500')).json() as { items: { id: number }[] };
    assert.equal(artists.items.length, manifest.artistKeys.length);

    // an album with art: its cover is served with long-lived caching
    let coverUrl: string | undefined;
    for (const album of albums.items) {
      const detail = (await app.inject(`/albums/${album.id}`)).json() as { cover: { urls: Record<string, string> } | null; tracks: unknown[] };
      assert.ok(detail.tracks.length > 0);
      if (detail.cover) coverUrl = detail.cover.urls['256'];
    }
    assert.ok(coverUrl, 'some album has a cover');
    const image = await app.inject(coverUrl);
    assert.equal(image.statusCode, 200);
    assert.equal(image.headers['content-type'], 'image/webp');
    assert.match(String(image.headers['cache-control']), /immutable/);
    assert.equal((await app.inject({ url: coverUrl, headers: { 'if-none-match': String(image.headers.etag) } })).statusCode, 304);
    assert.equal((await app.inject('/images/..%2F..%2Fetc/passwd')).statusCode, 400);
    assert.equal((await app.inject('/images/0123456789abcdef0123/256.webp')).statusCode, 404);
    const track = (await app.inject(`/tracks/${page.items[0]!.id}`)).json() as { track: { id: number }; genres: string[] };
    assert.equal(track.track.id, page.items[0]!.id);
  });

  it('answers similar, playlist and path requests once the first model is trained, and refuses bad ones', async () => {
    const id = ((await app.inject('/tracks?limit=1')).json() as { items: { id: number }[] }).items[0]!.id;
    // analysis is off in this runtime: every track is ready, so the first model is trained by now
    await runtime.broker.enqueue('deferred.process_vectors_batch', {});
    await drain(runtime.broker);
    const similar = await app.inject(`/tracks/${id}/similar?k=3`);
    assert.equal(similar.statusCode, 200, similar.body);
    assert.equal((similar.json() as { tracks: unknown[] }).tracks.length, 3);
    assert.equal((await app.inject(`/playlists?seeds=${id}&length=5`)).statusCode, 200);
    assert.equal((await app.inject('/playlists?seeds=abc')).statusCode, 400);
    assert.equal((await app.inject(`/tracks/99999999/similar`)).statusCode, 404);
    assert.equal((await app.inject('/vectors/status')).statusCode, 200);
    const other = ((await app.inject('/tracks?limit=1&offset=7')).json() as { items: { id: number }[] }).items[0]!.id;
    const route = await app.inject(`/paths?from=${id}&to=${other}&length=4`);
    assert.equal(route.statusCode, 200, route.body);
    assert.deepEqual([(route.json() as { tracks: { trackId: number }[] }).tracks.at(0)!.trackId, (route.json() as { tracks: { trackId: number }[] }).tracks.at(-1)!.trackId], [id, other]);
    assert.equal((await app.inject(`/paths?from=${id}`)).statusCode, 400);
  });

  it('shows the roots, the library stats and recent albums, and refuses to cancel a scan that is not running', async () => {
    const roots = (await app.inject('/roots')).json() as { configured: string[]; library: { path: string }[] };
    assert.deepEqual(roots.configured, [manifest.root]);
    assert.ok(roots.library.some((r) => r.path === manifest.root));
    const stats = (await app.inject('/stats')).json() as { tracks: number; albums: number };
    assert.equal(stats.albums, manifest.albumKeys.length);
    const recent = (await app.inject('/albums/recent?limit=3')).json() as { items: { cover: string | null }[] };
    assert.equal(recent.items.length, 3);
    assert.equal((await app.inject('/albums/recent?limit=0')).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: `/scans/${scanId}/cancel` })).statusCode, 404, 'the scan is over');
  });

  it('lists jobs, queues a task by name, and refuses unknown tasks and bad payloads', async () => {
    assert.match((await app.inject('/metrics')).body, /^soniquebay_job_duration_seconds\{queue="scan",quantile="0.99"\} [\d.]+$/m);
    const queues = (await app.inject('/queues')).json() as Record<string, { completed: number }>;
    assert.ok(queues.scan!.completed >= 1);
    assert.equal((await app.inject('/jobs?state=completed&limit=5')).statusCode, 200);
    assert.equal((await app.inject('/jobs?state=exploded')).statusCode, 400);
    const unknown = await app.inject({ method: 'POST', url: '/tasks/scan.discovry', payload: { payload: {} } });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /did you mean "scan.discovery"/);
    assert.equal((await app.inject({ method: 'POST', url: '/tasks/scan.discovery', payload: { payload: { root: 5 } } })).statusCode, 400);
    // tasks that take paths: a scan only inside the roots, the inner stages of a scan never
    assert.equal((await app.inject({ method: 'POST', url: '/tasks/scan.discovery', payload: { payload: { root: '/etc' } } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/tasks/scan_music_task', payload: { payload: { directory: '/etc' } } })).statusCode, 403, 'legacy alias too');
    assert.equal((await app.inject({ method: 'POST', url: '/tasks/metadata.extract_batch', payload: { payload: { scanId: 'x', batchNo: 1, paths: ['/etc/passwd'] } } })).statusCode, 403);
    const queued = await app.inject({ method: 'POST', url: '/tasks/deferred.retry_failed', payload: { payload: {} } });
    assert.equal(queued.statusCode, 202);
    const job = (await app.inject(`/jobs/${encodeURIComponent((queued.json() as { id: string }).id)}`)).json() as { name: string };
    assert.equal(job.name, 'deferred.retry_failed');
    assert.equal((await app.inject({ method: 'POST', url: '/jobs/retry', payload: { all: true } })).statusCode, 200);
  });

  it('needs the bearer token for changes when bound beyond localhost, and refuses them without one', async () => {
    const guarded = await buildApi({ runtime, host: '0.0.0.0', token: 'a-long-enough-secret-token' });
    try {
      const body = { root: manifest.root };
      assert.equal((await guarded.inject({ method: 'POST', url: '/scans', payload: body })).statusCode, 401);
      assert.equal((await guarded.inject({ method: 'POST', url: '/scans', payload: body, headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
      assert.equal((await guarded.inject({ method: 'POST', url: '/tasks/deferred.retry_failed', payload: {}, headers: { authorization: 'Bearer a-long-enough-secret-token' } })).statusCode, 202);
      assert.equal((await guarded.inject('/tracks')).statusCode, 200, 'reading stays open');
    } finally {
      await guarded.close();
    }
    const open = await buildApi({ runtime, host: '0.0.0.0' });
    try {
      const refused = await open.inject({ method: 'POST', url: '/tasks/deferred.retry_failed', payload: {} });
      assert.equal(refused.statusCode, 403);
      assert.match(refused.json().message, /SONIQUEBAY_API_TOKEN/);
    } finally {
      await open.close();
    }
  });
});
