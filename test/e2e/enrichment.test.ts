// Enrichment: mood and genre tags from ab:* tags right after a scan; Last.fm top tags only on the
// deferred path, against a local server replaying Last.fm's documented answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mp3WithTags, stripId3 } from '../../scripts/tag-writers.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, scan } from '../helpers/runtimes.js';

describe('enrichment', () => {
  let dir: string;
  let server: http.Server;
  let requests: string[] = [];
  let runtime: Runtime;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-enrich-'));
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(url.searchParams.get('method') ?? url.pathname);
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('method') === 'track.gettoptags' && url.searchParams.get('track') === 'Known') {
        return res.end(JSON.stringify({ toptags: { tag: [{ name: 'hip-hop', count: 100 }, { name: 'chill', count: 50 }, { name: 'seen live', count: 5 }] } }));
      }
      if (url.searchParams.get('method') === 'track.gettoptags') return res.end(JSON.stringify({ error: 6, message: 'Track not found' }));
      return res.end(JSON.stringify({ toptags: { tag: { name: 'jazz', count: 90 } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const album = path.join(dir, 'music', 'Someone', 'Record');
    fs.mkdirSync(album, { recursive: true });
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-b:a', '64k', path.join(dir, 'base.mp3')]);
    const audio = stripId3(fs.readFileSync(path.join(dir, 'base.mp3')));
    fs.writeFileSync(path.join(album, '01.mp3'), mp3WithTags(audio, { title: 'Known', artists: ['Someone'], album: 'Record', genres: ['hip-hop', '00s'], extra: { 'ab:hi:mood_happy:happy': '0.83', 'ab:hi:mood_sad:sad': '0.12', 'ab:genre': 'Trip-Hop' } }));
    fs.writeFileSync(path.join(album, '02.mp3'), mp3WithTags(audio, { title: 'Obscure', artists: ['Someone'], album: 'Record' }));
    const config = { ...loadConfig({}), dataDir: path.join(dir, 'data'), analysis: false, outsideLookups: true, lastfmApiKey: 'test-key' };
    runtime = await openRuntime({ ...config, providerUrls: { ...config.providerUrls, lastfm: base } }, testLogger);
    await scan(runtime, path.join(dir, 'music'));
    await drain(runtime.broker);
  });
  after(async () => {
    await runtime.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tagsOf = (title: string) =>
    runtime.database.db
      .selectFrom('track_tags')
      .innerJoin('tags', 'tags.id', 'track_tags.tag_id')
      .innerJoin('tracks', 'tracks.id', 'track_tags.track_id')
      .select(['tags.kind', 'tags.name', 'track_tags.source', 'track_tags.weight'])
      .where('tracks.title', '=', title)
      .orderBy('tags.kind')
      .orderBy('tags.name')
      .execute();

  it('stores canonical genres and the moods of ab:* tags without asking anyone', async () => {
    assert.deepEqual(requests, []);
    const genres = await runtime.database.db.selectFrom('genres').select('name').execute();
    assert.deepEqual(genres.map((g) => g.name), ['Hip Hop'], '"hip-hop" is canonical, "00s" is junk');
    assert.deepEqual(await tagsOf('Known'), [
      { kind: 'genre', name: 'Trip Hop', source: 'acousticbrainz', weight: null },
      { kind: 'mood', name: 'happy', source: 'acousticbrainz', weight: 0.83 },
    ]);
  });

  it('adds Last.fm track tags (else the artist\'s) on the deferred path, dropping weak ones', async () => {
    await runtime.broker.enqueue('deferred.process_enrichment_batch', { limit: 10 });
    await drain(runtime.broker);
    const known = (await tagsOf('Known')).filter((t) => t.source === 'lastfm');
    // "chill" is a known alias (Chillout): both are genres; "seen live" (weight 5) is dropped
    assert.deepEqual(known, [
      { kind: 'genre', name: 'Chillout', source: 'lastfm', weight: 0.5 },
      { kind: 'genre', name: 'Hip Hop', source: 'lastfm', weight: 1 },
    ]);
    assert.deepEqual((await tagsOf('Obscure')).map((t) => [t.name, t.source]), [['Jazz', 'lastfm']]);
    assert.ok(requests.includes('artist.gettoptags'));
  });
});
