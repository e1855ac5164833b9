// Outside lookups run on the deferred path only: a scan asks nothing of the providers; the covers
// sweep then asks, stores what they have, and defers what they refuse without spinning.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mp3WithTags, stripId3 } from '../../scripts/tag-writers.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, scan } from '../helpers/runtimes.js';

const R1 = '11111111-1111-4111-8111-111111111111';
const R2 = '22222222-2222-4222-8222-222222222222';

describe('outside cover lookups', () => {
  let dir: string;
  let server: http.Server;
  let requests: string[] = [];
  let runtime: Runtime;
  let jpeg: Buffer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-outside-'));
    jpeg = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#3a3' } }).jpeg().toBuffer();
    let r1Calls = 0;
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      if (url === `/release/${R1}/front`) {
        // first answer a 503: the client's own retry gets the image
        if (r1Calls++ === 0) return res.writeHead(503).end();
        return res.writeHead(307, { location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/img/r1.jpg` }).end();
      }
      if (url === '/img/r1.jpg' || url === '/img/one.jpg') return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
      if (url === `/release/${R2}/front`) return res.writeHead(429, { 'retry-after': '3600' }).end();
      if (url.startsWith('/search/artist')) {
        const port = (server.address() as AddressInfo).port;
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ name: 'Artist One', picture_xl: `http://127.0.0.1:${port}/img/one.jpg` }] }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const music = path.join(dir, 'music');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-b:a', '64k', path.join(dir, 'base.mp3')]);
    const audio = stripId3(fs.readFileSync(path.join(dir, 'base.mp3')));
    for (const [artist, album, mbid] of [['Artist One', 'First', R1], ['Artist Two', 'Second', R2]] as const) {
      fs.mkdirSync(path.join(music, artist, album), { recursive: true });
      for (const n of [1, 2]) {
        fs.writeFileSync(path.join(music, artist, album, `0${n}.mp3`), mp3WithTags(audio, { title: `${album} ${n}`, artists: [artist], albumArtist: artist, album, mbAlbumId: mbid }));
      }
    }
    const config = { ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: true };
    runtime = await openRuntime({ ...config, providerUrls: { ...config.providerUrls, coverartarchive: base, deezer: base } }, testLogger);
    await scan(runtime, music);
    await drain(runtime.broker);
  });
  after(async () => {
    await runtime.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('never calls a provider during a scan, and leaves the lookups pending for the sweep', async () => {
    assert.deepEqual(requests, []);
    const pending = await runtime.database.db.selectFrom('work_state').select(['entity_type', 'stage']).where('status', '=', 'pending').where('stage', 'in', ['cover_outside', 'image_outside']).execute();
    assert.equal(pending.filter((p) => p.stage === 'cover_outside').length, 2);
    assert.equal(pending.filter((p) => p.stage === 'image_outside').length, 2);
  });

  it('the sweep stores what providers have and defers a refusal until its Retry-After', async () => {
    const { db } = runtime.database;
    await runtime.broker.enqueue('deferred.process_covers_batch', { limit: 10 });
    await drain(runtime.broker);
    const covers = await db.selectFrom('covers').innerJoin('albums', 'albums.id', 'covers.entity_id').select(['albums.title', 'covers.source']).where('covers.entity_type', '=', 'album').execute();
    assert.deepEqual(covers, [{ title: 'First', source: 'coverartarchive' }]);
    const second = await db.selectFrom('albums').select('id').where('title', '=', 'Second').executeTakeFirstOrThrow();
    const deferred = await db.selectFrom('work_state').selectAll().where('entity_type', '=', 'album').where('entity_id', '=', second.id).where('stage', '=', 'cover_outside').executeTakeFirstOrThrow();
    assert.equal(deferred.status, 'pending');
    assert.ok((deferred.next_attempt_at ?? 0) > Date.now() + 3_000_000, 'not before the Retry-After');
    assert.match(deferred.last_error ?? '', /Retry-After 3600 s/);
    const artistImages = await db.selectFrom('covers').innerJoin('artists', 'artists.id', 'covers.entity_id').select(['artists.name', 'covers.source']).where('covers.entity_type', '=', 'artist').execute();
    assert.deepEqual(artistImages, [{ name: 'Artist One', source: 'deezer' }]);

    const asked = requests.length;
    await runtime.broker.enqueue('deferred.process_covers_batch', { limit: 10 });
    await drain(runtime.broker);
    assert.equal(requests.length, asked, 'nothing is due: the sweep asks nothing');
  });
});
