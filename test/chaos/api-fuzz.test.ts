// Hostile requests: every route of the API (read from the app itself, so a new route is fuzzed
// without touching this file) gets generated requests (test/helpers/fuzz-requests.ts) through
// app.inject(), from a seeded PRNG (SB_FUZZ_SEED=… replays a run). Asserted: no 5xx; no byte of a
// canary folder outside the library roots in any answer, and no file outside the roots, the data
// folder and the code even looked at (the fs functions are wrapped while the fuzz runs); with a
// token configured, nothing queued, no root added and no scan touched by requests without it; on
// the open loopback default, foreign Host names (DNS rebinding) and cross-site changes refused.
// 10,000 requests in `npm test`, 50,000 with SB_CHAOS=full (npm run test:chaos).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { z } from 'zod';
import { generateLibrary } from '../../scripts/fixtures.js';
import { seededRandom } from '../../scripts/random.js';
import { buildApi } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ensureRoot, startScan } from '../../src/workers/scan/sessions.js';
import { testLogger } from '../helpers/brokers.js';
import { FULL_CHAOS } from '../helpers/chaos.js';
import { accessesOutside, isInside, listRoutes, realPathOf, recordFileAccess, type FileAccess, type RouteInfo } from '../helpers/fuzz.js';
import { RequestFuzzer, type FuzzRequest, type Knowledge, type OpenApiSpec, type Schema } from '../helpers/fuzz-requests.js';
import { drain, scan } from '../helpers/runtimes.js';

const REQUESTS = FULL_CHAOS ? 50_000 : 10_000;
/** the share of them sent to the API with a token configured, none carrying it */
const UNAUTHENTICATED_SHARE = 0.3;
const SEED = Number(process.env.SB_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOKEN = 'fuzz-token-0123456789abcdef';
const REPO = realPathOf(path.resolve(import.meta.dirname, '../..'));
/** where tsx (which runs the tests) keeps the modules it compiled: read when a module loads lazily */
const TSX_CACHE = path.join(os.tmpdir(), `tsx-${process.geteuid?.() ?? os.userInfo().username}`);
/** a route must see at least this many requests */
const MIN_PER_ROUTE = 20;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const INTERNAL_TASKS = ['metadata.extract_batch', 'batch.process_entities'];

interface Outcome {
  status: number;
  body: string;
}

/** sends one request; the answer of a stream that never ends (live events) is its first chunk */
async function send(app: FastifyInstance, request: FuzzRequest): Promise<Outcome> {
  const response = await app.inject({
    method: request.method as InjectOptions['method'],
    url: request.url,
    headers: request.headers,
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
    payloadAsStream: true,
  });
  const stream = response.stream();
  const chunks: Buffer[] = [];
  const live = String(response.headers['content-type']).startsWith('text/event-stream');
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => (live ? resolve() : reject(new Error('the answer never ended (15 s)'))), live ? 20 : 15_000);
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (live) resolve();
    });
    stream.once('end', resolve);
    stream.once('error', reject);
  }).finally(() => {
    clearTimeout(timer);
    if (live) response.raw.res.destroy();
  });
  return { status: response.statusCode, body: Buffer.concat(chunks).toString('utf8') };
}

function decodable(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function describeRequest(request: FuzzRequest): string {
  const payload = request.payload === undefined ? '' : ` body(${request.payload.length} B)=${request.payload.slice(0, 200)}`;
  return `${request.method} ${request.url.slice(0, 300)} headers=${JSON.stringify(request.headers).slice(0, 300)}${payload} [${request.kinds.join('; ')}]`;
}

/** what a request without the token must not change: queues, roots, scans */
async function changeableState(runtime: Runtime) {
  const db = runtime.database.db;
  const jobs: string[] = [];
  for (const state of ['waiting', 'delayed', 'active', 'failed'] as const) jobs.push(...(await runtime.broker.listJobs({ state, limit: 10_000 })).map((j) => `${state}:${j.id}`));
  return {
    counts: await runtime.broker.counts(),
    jobs: jobs.sort(),
    roots: await db.selectFrom('library_roots').selectAll().orderBy('id').execute(),
    scans: await db.selectFrom('scans').selectAll().orderBy('id').execute(),
  };
}

describe('API fuzz', () => {
  let dir: string;
  let root: string;
  /** a real folder below the root */
  let subfolder: string;
  let dataDir: string;
  let canary: string;
  let runtime: Runtime;
  let open: FastifyInstance;
  let guarded: FastifyInstance;
  let routes: RouteInfo[];
  let fuzzer: RequestFuzzer;
  let current = 'setup';
  let recorder: ReturnType<typeof recordFileAccess> | null = null;
  /** the canary's content and the name of a file in it: neither may ever appear in an answer */
  const secret = `canary-content-${randomBytes(12).toString('hex')}`;
  const secretName = `canary-name-${randomBytes(12).toString('hex')}`;
  const rand = seededRandom(SEED);
  const perRoute = new Map<string, { sent: number; routed: number }>();
  const serverErrors: string[] = [];
  const leaks: string[] = [];
  const unexpected: string[] = [];
  let sent = 0;
  let tooLarge = 0;
  let refusedUnauthenticated = 0;
  let unauthenticatedEnqueues = 0;
  let readsOutside: FileAccess[] = [];

  before(async () => {
    console.log(`# fuzz seed ${SEED} (replay: SB_FUZZ_SEED=${SEED})`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-'));
    const manifest = await generateLibrary({ tracks: 60, out: path.join(dir, 'music'), maxFfmpegTracks: 0 });
    root = manifest.root;
    subfolder = path.dirname(manifest.files[0]!.path);
    dataDir = path.join(dir, 'data');
    runtime = await openRuntime({ ...loadConfig({}), dataDir, outsideLookups: false, analysis: false, libraryRoots: [root] }, testLogger);
    await scan(runtime, root);
    // analysis is off: every track is ready, so this trains the first vector model (similar, playlists, paths answer)
    await runtime.broker.enqueue('deferred.process_vectors_batch', {});
    await drain(runtime.broker);

    // outside the roots: a canary folder, reachable from inside the root only through links
    canary = path.join(dir, 'canary');
    fs.mkdirSync(canary);
    fs.writeFileSync(path.join(canary, 'secret.txt'), secret);
    fs.writeFileSync(path.join(canary, `${secretName}.mp3`), secret);
    fs.symlinkSync(canary, path.join(root, 'escape'));
    fs.symlinkSync(path.join(canary, 'secret.txt'), path.join(root, 'secret-link.mp3'));
    // a scan in progress, for the cancel route to aim at
    const libraryRoot = await ensureRoot(runtime.database.db, root);
    const running = randomUUID();
    await startScan(runtime.database.db, { rootId: libraryRoot.id, rootPath: root, scanId: running, full: false });

    open = await buildApi({ runtime, host: '127.0.0.1' });
    guarded = await buildApi({ runtime, host: '0.0.0.0', token: TOKEN });
    await Promise.all([open.ready(), guarded.ready()]);
    // adding and removing library roots is the one change that names a folder anywhere on disk (the
    // dashboard's folder field) and drops a root with its tracks: fuzzed, it would widen the roots
    // this test holds every other route to, and empty the library the next test needs
    const fuzzable = (list: RouteInfo[]) => list.filter((r) => !(r.url.startsWith('/roots') && r.method !== 'GET'));
    routes = fuzzable(listRoutes(open));
    assert.deepEqual(fuzzable(listRoutes(guarded)), routes);
    for (const route of routes) perRoute.set(`${route.method} ${route.url}`, { sent: 0, routed: 0 });
    fuzzer = new RequestFuzzer(rand, open.swagger() as OpenApiSpec, await knowledge(running));
  });

  after(async () => {
    recorder?.restore();
    await open?.close();
    await guarded?.close();
    await runtime?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** what the live library gives meaning to, and the paths to try */
  async function knowledge(runningScan: string): Promise<Knowledge> {
    const db = runtime.database.db;
    const ids = async (table: 'tracks' | 'albums' | 'artists') => (await db.selectFrom(table).select('id').orderBy('id').limit(20).execute()).map((r) => r.id);
    const [tracks, albums, artists] = [await ids('tracks'), await ids('albums'), await ids('artists')];
    const scans = [runningScan, ...(await db.selectFrom('scans').select('id').execute()).map((s) => s.id)];
    const hashes = (await db.selectFrom('images').select('hash').limit(10).execute()).map((r) => r.hash);
    const jobs = (await runtime.broker.listJobs({ state: 'completed', limit: 20 })).map((j) => j.id);
    const genres = (await db.selectFrom('genres').select('name').limit(10).execute()).map((g) => g.name);
    const titles = (await db.selectFrom('tracks').select('title').limit(10).execute()).map((t) => t.title);
    const tasks = [...runtime.registry.tasks.keys(), ...runtime.registry.aliases.keys()];
    const paths = [
      // inside the root: allowed
      root, `${root}/`, `${root}/.`, `${root}//`, subfolder, `${root}/../${path.basename(root)}`,
      // outside: refused, by name or by where the name leads
      `${root}/..`, `${root}/../canary`, `${root}/../data`, canary, path.join(canary, 'secret.txt'), dataDir, path.join(dataDir, 'images'),
      path.join(root, 'escape'), path.join(root, 'escape') + '/', path.join(root, 'escape', 'secret.txt'), path.join(root, 'escape', '..'), path.join(root, 'secret-link.mp3'),
      '/', '/etc', '/etc/passwd', '/proc/self/environ', '/proc/self/cwd', '/dev/zero', '/dev/urandom', '/root', '~', '~/music', os.tmpdir(), REPO,
      '..', '../..', '../../../../../../etc/passwd', 'music', './music', path.relative(process.cwd(), canary), '',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%252e%252e%252fetc%252fpasswd', '..%2f..%2fetc%2fpasswd', '..%5c..%5cetc', '%c0%ae%c0%ae/etc/passwd', `${root}/%2e%2e/canary`, `${root}/..%2fcanary`,
      root.replaceAll('/', '\\'), '..\\..\\etc\\passwd', 'C:\\Windows\\win.ini', '\\\\server\\share', `${root}\\..\\canary`,
      `${root}\0`, `${root}\0/../../etc/passwd`, `${canary}\0${root}`, `file://${root}`, 'file:///etc/passwd',
      `${root}/${'a'.repeat(5_000)}`, `/${'a/'.repeat(3_000)}`, root.toUpperCase(), `${root} `, ` ${root}`, `${root}\n`,
    ];
    const someTracks = (n: number) => tracks.slice(0, n).join(',');
    return {
      values: {
        '/tracks/:id#id': [...tracks, 99_999_999],
        '/tracks/:id/similar#id': [...tracks, 99_999_999],
        '/albums/:id#id': [...albums, 99_999_999],
        '/artists/:id#id': [...artists, 99_999_999],
        '/scans/:id#id': [...scans, 'no-such-scan'],
        '/scans/:id/cancel#id': [...scans, 'no-such-scan'],
        '/jobs/:id#id': [...jobs, 'scan:1', 'scan:99999999', 'nope:1', 'scan:-1', 'scan:1e9', 'extract:0'],
        '/images/:hash/:name#hash': [...hashes, '0123456789abcdef0123', 'f'.repeat(128), 'ab'],
        '/images/:hash/:name#name': ['64.webp', '256.webp', '256.jpg', '1024.webp', '99999.webp', '0.jpg', '256.png', '../secret.txt'],
        '/dashboard/:file#file': ['app.js', 'style.css', 'index.html', '../server.ts', '../../../package.json'],
        '/docs/static/*#*': ['index.html', 'swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'theme/x.css', '../package.json', '../../../../../../../etc/passwd', '..%2f..%2fpackage.json', '.', '/etc/passwd'],
        '/tasks/:name#name': [...tasks, ...tasks, ...tasks, 'scan.discovry', 'nope', '__proto__', 'constructor', 'toString', 'SCAN.DISCOVERY', 'scan.discovery ', 'scan/discovery', 'a'.repeat(101)],
        seeds: [someTracks(1), someTracks(2), someTracks(20), `${someTracks(3)},99999999`, '1,1,1', tracks.map(String).join(','), '0', '1,,2', '-1'],
        from: tracks,
        to: tracks,
        genre: [...genres, 'rock', 'R&B', 'nope', '%'],
        search: [...titles, '%', '_', '"', 'Song', 'é'],
        scanId: scans,
        root: [root, root, root, `${root}/`],
        ids: [jobs, [], ['scan:1'], ['nope'], jobs.slice(0, 1)],
        queue: [...Object.keys(runtime.registry.queues), 'nope', ''],
        state: ['failed', 'completed', 'waiting'],
        k: [1, 5, 200],
        length: [2, 5, 30, 500],
      },
      paths,
      payloadSchemas: Object.fromEntries(
        tasks.map((name) => [name, z.toJSONSchema(runtime.registry.tasks.get(runtime.registry.aliases.get(name)?.target ?? name)!.schema as z.ZodType, { unrepresentable: 'any', io: 'input' }) as Schema]),
      ),
      taskFields: {
        root: [root, ...paths],
        directory: [root, ...paths],
        scanId: [...scans, 'x', 'a'.repeat(101)],
        full: [true, false],
        trackIds: [tracks.slice(0, 2), tracks, [], [0], [-1], [99_999_999], Array.from({ length: 10_001 }, (_, i) => i + 1)],
        trackId: [...tracks, 0, -1],
        albumIds: [albums.slice(0, 2), [0]],
        artistIds: [artists.slice(0, 2), [0]],
        reason: ['fuzz', '', 'x'.repeat(501)],
        force: [true, false],
        limit: [1, 100, 10_000, 10_001, 0],
        version: [1, 2, 99],
        outside: [true, false],
        paths: [[path.join(canary, 'secret.txt')], [path.join(root, 'secret-link.mp3')], ['/etc/passwd'], []],
        items: [[], [{}], [{ path: path.join(canary, 'secret.txt') }]],
        errors: [[], [{ path: '/etc/passwd', message: 'x' }]],
        batchNo: [1, 0],
        options: [{ trigger_reason: 'fuzz', force: true }, null],
        insertionData: [{ tracks: [] }, { tracks: [{ path: '/etc/passwd' }] }],
      },
    };
  }

  /** a random route: those that change things (bodies, auth, paths) more often than reads */
  function pickRoute(): RouteInfo {
    const weight = (r: RouteInfo) => (SAFE_METHODS.has(r.method) ? (r.url.includes(':') || r.url.includes('*') ? 2 : 1) : 8);
    let roll = rand() * routes.reduce((sum, r) => sum + weight(r), 0);
    return routes.find((r) => (roll -= weight(r)) < 0) ?? routes.at(-1)!;
  }

  /** n requests to random routes of `app`, each checked against what every answer must respect */
  async function fuzz(app: FastifyInstance, n: number, phase: 'unauthenticated' | 'open', headers: () => Record<string, string>): Promise<void> {
    for (let i = 0; i < n; i++) {
      const route = pickRoute();
      const request = fuzzer.request(route, headers());
      current = `${phase}: ${describeRequest(request)}`;
      const stats = perRoute.get(`${route.method} ${route.url}`)!;
      stats.sent++;
      sent++;
      let outcome: Outcome;
      try {
        outcome = await send(app, request);
      } catch (err) {
        serverErrors.push(`${current} -> no answer: ${(err as Error).message}`);
        continue;
      }
      const { status, body } = outcome;
      if (status >= 500) serverErrors.push(`${current} -> ${status} ${body.slice(0, 500)}`);
      if (body.includes(secret) || body.includes(secretName)) leaks.push(`${current} -> ${status} ${body.slice(0, 300)}`);
      if (status === 413) tooLarge++;
      const notRouted = status === 404 && body.startsWith('{"message":"Route ');
      const expect = (ok: boolean, what: string) => !ok && unexpected.push(`${current} -> ${status} ${body.slice(0, 200)}: ${what}`);
      // GET and HEAD bodies are never read
      if (request.huge && !['GET', 'HEAD'].includes(request.method.toUpperCase())) expect(status >= 400, 'a body over the limit must be refused');
      if (route.url === '/tasks/:name' && status === 202) {
        const name = (JSON.parse(body) as { name: string }).name;
        expect(!INTERNAL_TASKS.includes(name), 'an inner stage of a scan must never be queued by the API');
      }
      if (phase === 'unauthenticated') {
        if (!SAFE_METHODS.has(request.method.toUpperCase())) {
          expect(status >= 400, 'a change without the token must be refused');
          if (status === 401) refusedUnauthenticated++;
        }
        continue;
      }
      // the router refuses a URL it cannot decode, or a too long parameter, before any hook runs
      const badUrl = status === 414 || (status === 400 && !decodable(request.url.split('?')[0]!));
      if (request.foreignHost) expect(status === 421 || badUrl, 'a foreign Host name must be refused on the open loopback API');
      else if (request.crossOrigin && !SAFE_METHODS.has(request.method.toUpperCase())) expect(status === 403 || badUrl, 'a change from another site must be refused');
      else {
        if (request.huge && request.method === 'POST' && route.method === 'POST' && request.headers['content-type'] === 'application/json' && !badUrl) expect(status === 413, 'a JSON body over the limit must be refused with 413');
        if (!notRouted && request.method === route.method) stats.routed++;
      }
    }
  }

  it(`with a token configured, refuses every change without it: ${Math.round(REQUESTS * UNAUTHENTICATED_SHARE)} requests queue nothing and change no root or scan`, async () => {
    const before = await changeableState(runtime);
    assert.ok(before.scans.some((s) => s.status === 'running'), 'a running scan to aim cancel requests at');
    const wrong = [undefined, 'Bearer', 'Bearer ', 'Bearer wrong', `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN.toUpperCase()}`, `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`, TOKEN, `Token ${TOKEN}`, `Bearer\t${TOKEN}`, `${TOKEN} Bearer`, 'Bearer '.repeat(500)];
    recorder = recordFileAccess(() => current);
    await fuzz(guarded, Math.round(REQUESTS * UNAUTHENTICATED_SHARE), 'unauthenticated', (): Record<string, string> => {
      const authorization = wrong[Math.floor(rand() * wrong.length)];
      return authorization === undefined ? {} : { authorization };
    });
    current = 'between phases';
    const afterwards = await changeableState(runtime);
    unauthenticatedEnqueues = afterwards.jobs.filter((j) => !before.jobs.includes(j)).length;
    assert.deepEqual(afterwards, before, 'requests without the token changed queues, roots or scans');
    assert.ok(refusedUnauthenticated > 0, 'changes were tried');
    // the comparison would see a change: the same request with the token queues a job
    const allowed = await guarded.inject({ method: 'POST', url: '/tasks/deferred.retry_failed', payload: {}, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(allowed.statusCode, 202, allowed.body);
    assert.notDeepEqual((await changeableState(runtime)).jobs, before.jobs);
  });

  it(`answers ${REQUESTS - Math.round(REQUESTS * UNAUTHENTICATED_SHARE)} hostile requests on the open loopback API without a server error or a leak`, async () => {
    recorder ??= recordFileAccess(() => current);
    await fuzz(open, REQUESTS - Math.round(REQUESTS * UNAUTHENTICATED_SHARE), 'open', () => ({}));
    current = 'after the fuzz';
    recorder.restore();
    // the data folder (database, images, vector index), the library root, and the code being
    // loaded: the repository (src/api/dashboard, swagger-ui's files and lazily required modules in
    // node_modules) and tsx's cache of compiled modules in the temporary folder; the API itself
    // keeps nothing in the temporary folder
    const allowed = [root, dataDir, REPO, TSX_CACHE].map(realPathOf);
    readsOutside = accessesOutside(recorder.accesses, allowed);
    const checked = recorder.accesses;
    recorder = null;
    assert.ok(checked.some((a) => isInside(a.path, root)) && checked.some((a) => isInside(a.path, dataDir)), 'the wrappers saw the API look into the root and the data folder');

    const lazy = [...perRoute].filter(([, s]) => s.sent < MIN_PER_ROUTE || s.routed === 0).map(([r, s]) => `${r}: ${s.sent} sent, ${s.routed} routed`);
    const report = (title: string, items: string[]) => (items.length === 0 ? '' : `${title} (${items.length}):\n  ${items.slice(0, 15).join('\n  ')}\n`);
    const outside = readsOutside.map((a) => `${a.op} ${a.path} during ${a.during.slice(0, 300)}`);
    console.log(`# fuzz: ${sent} requests over ${routes.length} routes, seed ${SEED}, ${serverErrors.length} server errors, ${readsOutside.length} reads outside the roots, ${unauthenticatedEnqueues} unauthenticated enqueues (${refusedUnauthenticated} refused with 401, ${tooLarge} bodies refused with 413, ${checked.length} file accesses checked)`);
    assert.equal(
      serverErrors.length + leaks.length + outside.length + unexpected.length + lazy.length,
      0,
      report('server errors', serverErrors) + report('canary leaks', leaks) + report('files looked at outside the roots', outside) + report('unexpected answers', unexpected) + report('routes not fuzzed enough', lazy),
    );
    assert.ok(tooLarge > 0, 'huge bodies were refused with 413');
    // the only scans the API could queue are of the library root, as configured
    for (const job of await runtime.broker.listJobs({ queue: 'scan', state: 'waiting', limit: 10_000 })) assert.equal((job.payload as { root: string }).root, root);
    // the inner stages of a scan are never queued (the batch queue also carries soniquebay.sync, which the API may queue)
    for (const queue of ['extract', 'batch']) {
      const inner = (await runtime.broker.listJobs({ queue, state: 'waiting', limit: 10_000 })).filter((job) => INTERNAL_TASKS.includes(job.name));
      assert.deepEqual(inner.map((job) => job.name), [], `${queue}: inner stages never queued`);
    }
  });

  it('refuses numbers coerced from text to Infinity (found by the fuzz: they reached SQLite and answered 500)', async () => {
    const track = ((await open.inject('/tracks?limit=1')).json() as { items: { id: number }[] }).items[0]!.id;
    for (const url of ['/jobs?limit=1e309', '/tracks?offset=Infinity', '/scans?offset=-Infinity', `/paths?from=${track}&to=${track}&length=1e309`, '/tracks/1e309', '/events?lastEventId=Infinity']) {
      const answer = await open.inject(url);
      assert.equal(answer.statusCode, 400, `${url}: ${answer.body}`);
    }
    const task = await open.inject({ method: 'POST', url: '/tasks/deferred.retry_failed', payload: { payload: {}, priority: 'Infinity' } });
    assert.equal(task.statusCode, 400, task.body);
  });

  it('answers a search holding a NUL character (found by the fuzz: the FTS5 query answered 500 "unterminated string")', async () => {
    for (const url of ['/albums?search=a%00b&offset=1000000', '/tracks?search=abc%00def', '/artists?search=%00%00%00']) {
      const answer = await open.inject(url);
      assert.equal(answer.statusCode, 200, `${url}: ${answer.body}`);
    }
  });

  it('on the open loopback default, refuses a foreign Host (DNS rebinding) and a change from another site', async () => {
    const get = (host: string) => open.inject({ url: '/stats', headers: { host } });
    const rebound = await get('evil.example:5005');
    assert.equal(rebound.statusCode, 421);
    assert.equal(rebound.json().error, 'misdirected_host');
    assert.match(rebound.json().message, /not a loopback name/);
    for (const host of ['localhost:5005', '127.0.0.1', '[::1]:80', 'LOCALHOST']) assert.equal((await get(host)).statusCode, 200, host);
    const cancel = (origin?: string) => open.inject({ method: 'POST', url: '/scans/no-such-scan/cancel', headers: origin ? { origin } : {} });
    const crossSite = await cancel('https://evil.example');
    assert.equal(crossSite.statusCode, 403);
    assert.equal(crossSite.json().error, 'cross_origin');
    assert.equal((await cancel('http://localhost:5005')).statusCode, 404, 'a page of the API itself may');
    assert.equal((await cancel()).statusCode, 404, 'a local client (no Origin) may');
    assert.equal((await open.inject({ url: '/stats', headers: { origin: 'https://evil.example' } })).statusCode, 200, 'reads carry no Origin check');
    // bound beyond loopback, the token guards changes and any name may be used
    assert.equal((await guarded.inject({ url: '/stats', headers: { host: 'music.example:5005' } })).statusCode, 200);
    // and over a real socket, as a browser tricked by DNS rebinding would connect
    const base = new URL(await open.listen({ host: '127.0.0.1', port: 0 }));
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: base.hostname, port: base.port, path: '/health/live', headers: { host: `rebind.example:${base.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    assert.equal(status, 421);
  });
});
