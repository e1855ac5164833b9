// The OpenAPI description (/docs) against the real API: every route documents its success answer
// (JSON with a schema, or its content types), every JSON answer is exactly what its handler returned
// (Fastify serialises with the response schema, which drops what the schema does not list) and
// valid against the schema /docs shows; recent albums list each album once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { buildApi } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { withCoverWrites } from '../../src/workers/covers/links.js';
import { testLogger } from '../helpers/brokers.js';
import { drain } from '../helpers/runtimes.js';

interface Operation {
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}
type Spec = { paths: Record<string, Record<string, Operation>> };

describe('OpenAPI response schemas', () => {
  let dir: string;
  let manifest: FixtureManifest;
  let runtime: Runtime;
  let app: FastifyInstance;
  let spec: Spec;
  /** what the last handler handed to the serializer (requests here run one at a time) */
  let returned: unknown;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-openapi-'));
    manifest = await generateLibrary({ tracks: 60, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
    runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false, analysis: false, libraryRoots: [manifest.root] }, testLogger);
    app = await buildApi({ runtime, host: '127.0.0.1' });
    app.addHook('preSerialization', async (_request, _reply, payload) => {
      returned = JSON.parse(JSON.stringify(payload)) as unknown;
      return payload;
    });
    await app.ready();
    spec = app.swagger() as unknown as Spec;
    const started = await app.inject({ method: 'POST', url: '/scans', payload: { root: manifest.root } });
    assert.equal(started.statusCode, 202, started.body);
    await drain(runtime.broker);
    await runtime.broker.enqueue('deferred.process_vectors_batch', {});
    await drain(runtime.broker);
  });
  after(async () => {
    await app.close();
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('documents a success answer with a schema or its content types for every route and method, never "Default Response"', () => {
    const operations = Object.entries(spec.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, op]) => ({ where: `${method.toUpperCase()} ${route}`, op })));
    assert.ok(operations.length >= 30, `${operations.length} operations documented`);
    for (const { where, op } of operations) {
      const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
      assert.ok(success.length > 0, `${where}: no 2xx answer documented (${Object.keys(op.responses).join(', ')})`);
      for (const [status, response] of success) {
        const content = Object.entries(response.content ?? {});
        assert.ok(content.length > 0 && content.every(([, c]) => c.schema !== undefined), `${where} ${status}: no schema`);
      }
      assert.ok(!Object.values(op.responses).some((r) => r.description === 'Default Response'), `${where}: "Default Response"`);
      assert.ok(op.responses['4XX']?.content?.['application/json']?.schema, `${where}: its errors are not documented`);
    }
    assert.deepEqual(Object.keys(spec.paths['/events']!.get!.responses['200']!.content!), ['text/event-stream']);
    assert.deepEqual(Object.keys(spec.paths['/images/{hash}/{name}']!.get!.responses['200']!.content!).sort(), ['image/jpeg', 'image/webp']);
    assert.deepEqual(Object.keys(spec.paths['/metrics']!.get!.responses['200']!.content!), ['text/plain']);
  });

  it('answers every JSON route with exactly what its handler returned, valid against the schema /docs shows', async () => {
    const db = runtime.database.db;
    const track = (await db.selectFrom('tracks').select('id').orderBy('id').limit(2).execute()).map((t) => t.id);
    const album = (await db.selectFrom('albums').select('id').limit(1).executeTakeFirstOrThrow()).id;
    const artist = (await db.selectFrom('artists').select('id').limit(1).executeTakeFirstOrThrow()).id;
    const scan = (await db.selectFrom('scans').select('id').executeTakeFirstOrThrow()).id;
    const job = (await runtime.broker.listJobs({ state: 'completed', limit: 1 }))[0]!.id;
    // a missing track, an unreadable file: rows for their lists
    await db.updateTable('tracks').set({ missing_since: Date.now() }).where('id', '=', track[1]!).execute();
    assert.ok((await db.selectFrom('scan_errors').select('path').executeTakeFirst()) !== undefined, 'the library has an unreadable file');
    const calls: { method?: 'GET' | 'POST'; route: string; url: string; payload?: object; status: number }[] = [
      { route: '/health/live', url: '/health/live', status: 200 },
      { route: '/health/ready', url: '/health/ready', status: 200 },
      { route: '/stats', url: '/stats', status: 200 },
      { route: '/albums/recent', url: '/albums/recent', status: 200 },
      { route: '/tracks', url: '/tracks?limit=500', status: 200 },
      { route: '/tracks', url: '/tracks?limit=abc', status: 400 },
      { route: '/tracks/missing', url: '/tracks/missing', status: 200 },
      { route: '/tracks/{id}', url: `/tracks/${track[0]}`, status: 200 },
      { route: '/tracks/{id}', url: '/tracks/99999999', status: 404 },
      { route: '/albums', url: '/albums?limit=500', status: 200 },
      { route: '/albums/{id}', url: `/albums/${album}`, status: 200 },
      { route: '/artists', url: '/artists?limit=500', status: 200 },
      { route: '/artists/{id}', url: `/artists/${artist}`, status: 200 },
      { route: '/unreadable', url: '/unreadable', status: 200 },
      { route: '/coverage', url: '/coverage', status: 200 },
      { route: '/tracks/{id}/similar', url: `/tracks/${track[0]}/similar?k=5`, status: 200 },
      { route: '/playlists', url: `/playlists?seeds=${track[0]}&length=5`, status: 200 },
      { route: '/paths', url: `/paths?from=${track[0]}&to=${(await db.selectFrom('tracks').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()).id}&length=4`, status: 200 },
      { route: '/vectors/status', url: '/vectors/status', status: 200 },
      { route: '/queues', url: '/queues', status: 200 },
      { route: '/queues/rates', url: '/queues/rates', status: 200 },
      { route: '/schedules', url: '/schedules', status: 200 },
      { route: '/jobs', url: '/jobs?state=completed&limit=500', status: 200 },
      { route: '/jobs/{id}', url: `/jobs/${encodeURIComponent(job)}`, status: 200 },
      { route: '/scans', url: '/scans', status: 200 },
      { route: '/scans/{id}', url: `/scans/${scan}`, status: 200 },
      { route: '/roots', url: '/roots', status: 200 },
      { method: 'POST', route: '/roots', url: '/roots', payload: { path: manifest.root }, status: 200 },
      { method: 'POST', route: '/scans/{id}/cancel', url: `/scans/${scan}/cancel`, status: 404 },
      { method: 'POST', route: '/jobs/retry', url: '/jobs/retry', payload: { all: true }, status: 200 },
      { method: 'POST', route: '/tasks/{name}', url: '/tasks/deferred.retry_failed', payload: { payload: {} }, status: 202 },
      { method: 'POST', route: '/tasks/{name}', url: '/tasks/no.such_task', payload: { payload: {} }, status: 404 },
      { method: 'POST', route: '/scans', url: '/scans', payload: { root: manifest.root }, status: 202 },
      { method: 'POST', route: '/scans', url: '/scans', payload: { root: manifest.root }, status: 200 },
    ];
    const answers: { call: (typeof calls)[number]; body: unknown; schema: unknown }[] = [];
    for (const call of calls) {
      const method = call.method ?? 'GET';
      returned = undefined;
      const res = await app.inject({ method, url: call.url, ...(call.payload ? { payload: call.payload } : {}) });
      assert.equal(res.statusCode, call.status, `${method} ${call.url}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/json/, `${method} ${call.url}`);
      const body = res.json() as unknown;
      // nothing dropped, renamed or retyped by the serializer
      assert.deepEqual(body, returned, `${method} ${call.url}: the answer differs from what the handler returned`);
      const responses = spec.paths[call.route]![method.toLowerCase()]!.responses;
      const declared = responses[String(call.status)] ?? responses[`${String(call.status)[0]}XX`];
      answers.push({ call, body, schema: declared?.content?.['application/json']?.schema });
    }
    await drain(runtime.broker); // the scan started above
    // lists with rows in them, or the check of their items proves nothing
    for (const route of ['/tracks', '/tracks/missing', '/albums', '/artists', '/unreadable', '/jobs', '/scans', '/albums/recent']) {
      assert.ok(answers.some((a) => a.call.route === route && ((a.body as { items?: unknown[] }).items?.length ?? 0) > 0), `${route} had items`);
    }
    assert.ok(((answers.find((a) => a.call.route === '/tracks/{id}/similar')!.body as { tracks: unknown[] }).tracks.length) === 5);

    // each answer checked by the validator Fastify itself uses, with the schema exactly as /docs shows it
    const checker = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, strict: false } } });
    answers.forEach((a, i) => {
      assert.ok(a.schema, `${a.call.route} ${a.call.status}: no JSON schema documented`);
      checker.post(`/check/${i}`, { schema: { body: a.schema as object } }, async () => ({ ok: true }));
    });
    try {
      for (const [i, a] of answers.entries()) {
        const res = await checker.inject({ method: 'POST', url: `/check/${i}`, payload: a.body as object });
        assert.equal(res.statusCode, 200, `${a.call.method ?? 'GET'} ${a.call.url} (${a.call.status}) does not match its schema: ${res.body}`);
      }
      // and the check can fail: a wrong type is caught
      const wrong = { ...(answers.find((a) => a.call.route === '/stats')!.body as object), tracks: 'many' };
      assert.equal((await checker.inject({ method: 'POST', url: `/check/${answers.findIndex((a) => a.call.route === '/stats')}`, payload: wrong })).statusCode, 400);
    } finally {
      await checker.close();
    }
  });

  it('serves the non-JSON answers with the content types it documents', async () => {
    const metrics = await app.inject('/metrics');
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    assert.match(metrics.body, /^# HELP soniquebay_jobs /m, 'Prometheus text, not a JSON string');
    const cover = (await runtime.database.db.selectFrom('covers').select('hash').where('entity_type', '=', 'album').executeTakeFirstOrThrow()).hash;
    const jpeg = await app.inject(`/images/${cover}/256.jpg`);
    assert.equal(jpeg.statusCode, 200);
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    assert.deepEqual([...jpeg.rawPayload.subarray(0, 2)], [0xff, 0xd8]);
    assert.equal((await app.inject({ url: `/images/${cover}/256.jpg`, headers: { 'if-none-match': String(jpeg.headers.etag) } })).statusCode, 304);
  });

  it('lists an album once in recent albums however many tracks and covers it has, with its best cover', async () => {
    const db = runtime.database.db;
    // an album with several tracks and art of its own, then a second cover from another source
    const albums = await db.selectFrom('covers').innerJoin('tracks', 'tracks.album_id', 'covers.entity_id').select(['covers.entity_id as id', 'covers.hash', 'covers.source']).where('covers.entity_type', '=', 'album').groupBy(['covers.entity_id', 'covers.hash', 'covers.source']).having((eb) => eb.fn.countAll(), '>', 1).execute();
    const target = albums[0]!;
    assert.ok(target, 'an album with several tracks and a cover');
    const other = await db.selectFrom('images').selectAll().where('hash', '!=', target.hash).executeTakeFirstOrThrow();
    await withCoverWrites(db, async ({ links }) => links.link(other, 'album', target.id, 'coverartarchive'));
    const count = Number((await db.selectFrom('albums').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const recent = (await app.inject('/albums/recent?limit=100')).json() as { items: { id: number; cover: string | null }[] };
    const ids = recent.items.map((a) => a.id);
    assert.equal(ids.length, new Set(ids).size, `an album listed twice: ${ids.join(',')}`);
    assert.equal(ids.length, count);
    const shown = recent.items.find((a) => a.id === target.id)!.cover;
    assert.equal(shown, `/images/${target.hash}/256.webp`, `its own ${target.source} art wins over the Cover Art Archive's`);
    const detail = (await app.inject(`/albums/${target.id}`)).json() as { cover: { source: string; urls: Record<string, string> } };
    assert.deepEqual([detail.cover.source, detail.cover.urls['256']], [target.source, shown], 'the album page shows the same cover');
    const listed = (await app.inject('/albums?limit=500')).json() as { items: { id: number; cover: string | null }[] };
    assert.equal(listed.items.find((a) => a.id === target.id)!.cover, shown, 'the album grid too');
  });
});
