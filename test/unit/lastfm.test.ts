// The Last.fm client behind lastfm.fetch_artist_info / lastfm.fetch_similar_artists, against a local
// server replaying Last.fm's documented answers (https://www.last.fm/api/show/artist.getInfo,
// …/artist.getSimilar, https://www.last.fm/api/errorcodes): numbers as strings, a lone item not
// wrapped in an array, errors in 200 bodies, and a provider that answers 429, 5xx or nothing.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { OutsideHttp, ProviderRequestError, ProviderUnavailableError } from '../../src/services/http/client.js';
import { lastfmArtistInfo, lastfmSimilarArtists } from '../../src/services/providers/lastfm.js';

type Reply = { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number };

const CHER = {
  artist: {
    name: 'Cher',
    mbid: 'bfcc6d75-a6a5-4bc6-8282-47aec8531818',
    url: 'https://www.last.fm/music/Cher',
    image: [{ '#text': 'https://lastfm.freetls.fastly.net/i/u/34s/2a96cbd8b46e442fc41c2b86b821562f.png', size: 'small' }],
    streamable: '0',
    ontour: '0',
    stats: { listeners: '1424549', playcount: '31146453' },
    similar: { artist: [{ name: 'Sonny & Cher', url: 'https://www.last.fm/music/Sonny+&+Cher', image: [] }] },
    tags: { tag: [{ name: 'pop', url: 'https://www.last.fm/tag/pop' }, { name: 'female vocalists', url: 'https://www.last.fm/tag/female+vocalists' }] },
    bio: {
      links: { link: { '#text': '', rel: 'original', href: 'https://last.fm/music/Cher/+wiki' } },
      published: '27 Feb 2006, 15:20',
      summary: 'Cher is an American singer and actress. <a href="https://www.last.fm/music/Cher">Read more on Last.fm</a>',
      content: 'Cher is an American singer and actress…',
    },
  },
};

describe('Last.fm client (artist.getInfo, artist.getSimilar)', () => {
  let server: http.Server;
  let base: string;
  let script: Reply[] = [];
  let asked: URLSearchParams[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      asked.push(new URL(req.url ?? '/', 'http://x').searchParams);
      const reply = script.shift() ?? { status: 500, body: {} };
      const send = () => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
      else send();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    script = [];
    asked = [];
  });

  const http_ = () => new OutsideHttp({ enabled: true, userAgent: 'test', policies: { lastfm: { ratePerSecond: 50, burst: 5, backoffBaseMs: 20, backoffCapMs: 500, timeoutMs: 200, retries: 2, breakerThreshold: 50 } } });

  it('reads artist.getInfo: counts from strings, tags, the biography without its "Read more" link', async () => {
    script = [{ status: 200, body: CHER }];
    const info = await lastfmArtistInfo(http_(), base, 'k', { name: 'Cher' });
    assert.deepEqual(info, {
      name: 'Cher',
      mbid: 'bfcc6d75-a6a5-4bc6-8282-47aec8531818',
      url: 'https://www.last.fm/music/Cher',
      listeners: 1424549,
      playcount: 31146453,
      tags: ['pop', 'female vocalists'],
      bio: 'Cher is an American singer and actress.',
    });
    assert.equal(asked[0]!.get('method'), 'artist.getinfo');
    assert.equal(asked[0]!.get('artist'), 'Cher');
    assert.equal(asked[0]!.get('api_key'), 'k');
  });

  it('asks by MusicBrainz id when the artist has one; a lone tag is not wrapped in an array', async () => {
    script = [{ status: 200, body: { artist: { ...CHER.artist, tags: { tag: { name: 'pop', url: 'x' } }, bio: undefined } } }];
    const info = await lastfmArtistInfo(http_(), base, 'k', { name: 'Cher', mbid: 'BFCC6D75-A6A5-4BC6-8282-47AEC8531818' });
    assert.deepEqual(info?.tags, ['pop']);
    assert.equal(info?.bio, null);
    assert.equal(asked[0]!.get('mbid'), 'bfcc6d75-a6a5-4bc6-8282-47aec8531818');
    assert.equal(asked[0]!.get('artist'), null);
  });

  it('an unknown artist (error 6) is "not found", not a failure', async () => {
    script = [{ status: 200, body: { error: 6, message: 'The artist you supplied could not be found', links: [] } }];
    assert.equal(await lastfmArtistInfo(http_(), base, 'k', { name: 'Nobody' }), null);
    script = [{ status: 200, body: { error: 6, message: 'The artist you supplied could not be found', links: [] } }];
    assert.deepEqual(await lastfmSimilarArtists(http_(), base, 'k', { name: 'Nobody' }, 10), []);
  });

  it('reads artist.getSimilar strongest first, capped at the limit', async () => {
    script = [
      {
        status: 200,
        body: {
          similarartists: {
            artist: [
              { name: 'Madonna', mbid: '79239441-bfd5-4981-a70c-55c3f15c1287', match: '0.8', url: 'x', image: [], streamable: '0' },
              { name: 'Sonny & Cher', match: '1', url: 'x', image: [], streamable: '0' },
              { name: 'Kylie Minogue', mbid: '', match: '0.75', url: 'x', image: [], streamable: '0' },
            ],
            '@attr': { artist: 'Cher' },
          },
        },
      },
    ];
    const similar = await lastfmSimilarArtists(http_(), base, 'k', { name: 'Cher' }, 2);
    assert.deepEqual(similar, [
      { name: 'Sonny & Cher', mbid: null, match: 1 },
      { name: 'Madonna', mbid: '79239441-bfd5-4981-a70c-55c3f15c1287', match: 0.8 },
    ]);
    assert.equal(asked[0]!.get('limit'), '2');
  });

  it('retries a 429 and a 503, then answers', async () => {
    script = [{ status: 429, body: {}, headers: { 'retry-after': '0' } }, { status: 503, body: {} }, { status: 200, body: CHER }];
    assert.equal((await lastfmArtistInfo(http_(), base, 'k', { name: 'Cher' }))?.listeners, 1424549);
    assert.equal(asked.length, 3);
  });

  it('retries a timeout; gives up with a clear error after its retries', async () => {
    script = [{ status: 200, body: CHER, delayMs: 1_000 }, { status: 200, body: CHER }];
    assert.equal((await lastfmArtistInfo(http_(), base, 'k', { name: 'Cher' }))?.name, 'Cher');
    script = [{ status: 502, body: {} }, { status: 502, body: {} }, { status: 502, body: {} }];
    await assert.rejects(lastfmArtistInfo(http_(), base, 'k', { name: 'Cher' }), (err: unknown) => err instanceof ProviderRequestError && /gave up after 3 attempts \(last: HTTP 502\)/.test(err.message));
  });

  it("Last.fm's rate-limit error in a 200 body (29) means: ask later; a bad key (10) is the caller's failure", async () => {
    script = [{ status: 200, body: { error: 29, message: 'Rate limit exceeded' } }];
    await assert.rejects(lastfmArtistInfo(http_(), base, 'k', { name: 'Cher' }), ProviderUnavailableError);
    script = [{ status: 200, body: { error: 10, message: 'Invalid API key - You must be granted a valid key by last.fm' } }];
    await assert.rejects(lastfmSimilarArtists(http_(), base, 'k', { name: 'Cher' }, 5), /Invalid API key.*\(error 10\)/);
  });
});
