// Outside image providers against a local server replaying their documented answers.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { OutsideHttp, ProviderUnavailableError } from '../../src/services/http/client.js';
import { coverArtArchiveFront, deezerArtistPicture, fanartArtistThumb, LASTFM_PLACEHOLDER, lastfmArtistImage } from '../../src/services/providers/images.js';

const RELEASE = '76df3287-6cda-33eb-8e9a-044b5e15ffdd';
const GROUP = 'f5093c06-23e3-404f-aeaa-40f72885ee3a';
const ARTIST = 'a74b1b7f-71a5-4011-9441-d0b5e4122711';

describe('image providers', () => {
  let server: http.Server;
  let base: string;
  let jpeg: Buffer;
  let routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {};
  let requests: string[] = [];

  before(async () => {
    jpeg = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#a33' } }).jpeg().toBuffer();
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const route = Object.keys(routes).find((r) => (req.url ?? '').startsWith(r));
      if (route) return routes[route]!(req, res);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    routes = {};
    requests = [];
  });

  const client = () => new OutsideHttp({ enabled: true, userAgent: 'test', policies: Object.fromEntries(['coverartarchive', 'deezer', 'lastfm', 'fanarttv'].map((p) => [p, { ratePerSecond: 50, backoffBaseMs: 20 }])) });
  const image = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
  const json = (body: unknown) => (_: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  it('Cover Art Archive: follows the redirect of /release/{mbid}/front to the image', async () => {
    routes[`/release/${RELEASE}/front`] = (_, res) => res.writeHead(307, { location: `${base}/img/front.jpg` }).end();
    routes['/img/front.jpg'] = (_, res) => image(res);
    const bytes = await coverArtArchiveFront(client(), base, RELEASE, GROUP);
    assert.ok(bytes?.equals(jpeg));
    assert.deepEqual(requests, [`/release/${RELEASE}/front`, '/img/front.jpg']);
  });

  it('Cover Art Archive: falls back to the release group on 404, and answers null when neither has art', async () => {
    routes[`/release-group/${GROUP}/front`] = (_, res) => image(res);
    assert.ok((await coverArtArchiveFront(client(), base, RELEASE, GROUP))?.equals(jpeg));
    routes = {};
    assert.equal(await coverArtArchiveFront(client(), base, RELEASE, GROUP), null);
    assert.equal(await coverArtArchiveFront(client(), base, '../../etc/passwd', null), null, 'not an MBID: nothing is requested');
  });

  it('Deezer: the exact-name match\'s picture_xl; no picture for an unknown name or the empty silhouette', async () => {
    routes['/search/artist'] = json({
      data: [
        { id: 1, name: 'Björk Tribute Band', picture_xl: `${base}/img/wrong.jpg` },
        { id: 2, name: 'Björk', picture_xl: `${base}/img/bjork.jpg` },
      ],
      total: 2,
    });
    routes['/img/bjork.jpg'] = (_, res) => image(res);
    assert.ok((await deezerArtistPicture(client(), base, 'bjork'))?.equals(jpeg));
    assert.equal(await deezerArtistPicture(client(), base, 'Nobody Here'), null);
    routes['/search/artist'] = json({ data: [{ id: 3, name: 'Faceless', picture_xl: 'https://e-cdns-images.dzcdn.net/images/artist//1000x1000-000000-80-0-0.jpg' }] });
    assert.equal(await deezerArtistPicture(client(), base, 'Faceless'), null);
  });

  it('Deezer: its 200-with-quota-error answer means "come back later"', async () => {
    routes['/search/artist'] = json({ error: { type: 'Exception', message: 'Quota limit exceeded', code: 4 } });
    await assert.rejects(deezerArtistPicture(client(), base, 'Anyone'), ProviderUnavailableError);
  });

  it('Last.fm: rejects the placeholder star, takes a real image, and treats error 6 as no artist', async () => {
    const info = (url: string) => json({ artist: { name: 'X', image: [{ '#text': url.replace('300x300', '34s'), size: 'small' }, { '#text': url, size: 'extralarge' }] } });
    routes['/2.0/'] = info(`https://lastfm.freetls.fastly.net/i/u/300x300/${LASTFM_PLACEHOLDER}.png`);
    assert.equal(await lastfmArtistImage(client(), base, 'key', 'X'), null);
    routes['/2.0/'] = info(`${base}/img/real.jpg`);
    routes['/img/real.jpg'] = (_, res) => image(res);
    assert.ok((await lastfmArtistImage(client(), base, 'key', 'X'))?.equals(jpeg));
    routes['/2.0/'] = json({ error: 6, message: 'The artist you supplied could not be found' });
    assert.equal(await lastfmArtistImage(client(), base, 'key', 'Nobody'), null);
    assert.ok(requests.some((r) => r.includes('method=artist.getinfo') && r.includes('api_key=key')));
  });

  it('fanart.tv: the most liked artist thumbnail, looked up by MBID', async () => {
    routes[`/v3/music/${ARTIST}`] = json({ name: 'X', artistthumb: [{ id: '1', url: `${base}/img/a.jpg`, likes: '2' }, { id: '2', url: `${base}/img/b.jpg`, likes: '9' }] });
    routes['/img/b.jpg'] = (_, res) => image(res);
    assert.ok((await fanartArtistThumb(client(), base, 'key', ARTIST))?.equals(jpeg));
    assert.equal(await fanartArtistThumb(client(), base, 'key', null), null);
  });
});
