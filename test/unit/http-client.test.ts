// The outside-services client against a local server that answers like a struggling provider.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { OutsideHttp, OutsideLookupsDisabledError, ProviderRequestError, ProviderUnavailableError, retryAfterMs } from '../../src/services/http/client.js';

type Reply = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number };

describe('outside HTTP client', () => {
  let server: http.Server;
  let base: string;
  let script: Reply[] = [];
  let fallback: Reply = { status: 200, body: '{}' };
  let hits: { at: number; userAgent: string | undefined }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      hits.push({ at: Date.now(), userAgent: req.headers['user-agent'] });
      const reply = script.shift() ?? fallback;
      const send = () => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
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
    fallback = { status: 200, body: '{}' };
    hits = [];
  });

  const client = (overrides: Record<string, unknown> = {}) =>
    new OutsideHttp({
      enabled: true,
      userAgent: 'SoniqueBay/test ( https://example.invalid )',
      policies: { deezer: { ratePerSecond: 20, backoffBaseMs: 50, backoffCapMs: 2_000, timeoutMs: 300, breakerOpenMs: 400, ...overrides } },
    });

  it('holds the provider rate limit, measured at the server', async () => {
    const c = client({ ratePerSecond: 10 });
    await Promise.all(Array.from({ length: 6 }, () => c.getJson('deezer', `${base}/artist`)));
    assert.equal(hits.length, 6);
    // 10 requests/s: six requests take 500 ms, less the first one's connection set-up (~50 ms here,
    // more on a loaded machine: it arrives late, closer to the third), and no three requests after it
    // fall within 200 ms
    const at = hits.map((h) => h.at);
    assert.ok(at[5]! - at[0]! >= 400, `six requests in ${at[5]! - at[0]!} ms`);
    for (let i = 1; i + 2 < at.length; i++) assert.ok(at[i + 2]! - at[i]! >= 150, `requests ${i}..${i + 2} within ${at[i + 2]! - at[i]!} ms`);
    assert.equal(hits[0]!.userAgent, 'SoniqueBay/test ( https://example.invalid )');
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    script = [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: '{"ok":true}' }];
    const started = Date.now();
    assert.deepEqual(await client().getJson('deezer', `${base}/x`), { ok: true });
    assert.ok(Date.now() - started >= 950, 'Retry-After: 1 must be honoured');
    assert.equal(hits.length, 2);
  });

  it('hands a long Retry-After back to the caller instead of waiting', async () => {
    script = [{ status: 429, headers: { 'retry-after': '3600' } }];
    await assert.rejects(client().getJson('deezer', `${base}/x`), (err: unknown) => {
      assert.ok(err instanceof ProviderUnavailableError);
      assert.ok(err.retryAt > Date.now() + 3_500_000);
      return true;
    });
    assert.equal(hits.length, 1);
  });

  it('retries 503 with backoff and gives up with the reason', async () => {
    script = [{ status: 503 }, { status: 503 }, { status: 200, body: '[1]' }];
    assert.deepEqual(await client().getJson('deezer', `${base}/x`), [1]);
    fallback = { status: 503 };
    await assert.rejects(client({ retries: 2 }).getJson('deezer', `${base}/y`), /gave up after 3 attempts \(last: HTTP 503\)/);
  });

  it('times out a slow answer', async () => {
    fallback = { status: 200, body: '{}', delayMs: 1_000 };
    await assert.rejects(client({ retries: 1 }).getJson('deezer', `${base}/slow`), /timed out after 300 ms/);
  });

  it('answers null for 404 and explains malformed JSON', async () => {
    script = [{ status: 404, body: 'not found' }, { status: 200, body: '{"broken":' }];
    const c = client();
    assert.equal(await c.getJson('deezer', `${base}/missing`), null);
    await assert.rejects(c.getJson('deezer', `${base}/bad?api_key=secret`), (err: unknown) => {
      assert.ok(err instanceof ProviderRequestError);
      assert.match(err.message, /malformed JSON/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });

  it('opens the breaker after repeated failures, sends nothing while open, and recovers through a probe', async () => {
    fallback = { status: 503 };
    const c = client({ retries: 0, breakerThreshold: 3 });
    for (let i = 0; i < 3; i++) await assert.rejects(c.getJson('deezer', `${base}/x`), ProviderRequestError);
    assert.equal(c.breakerState('deezer'), 'open');
    const before = hits.length;
    await assert.rejects(c.getJson('deezer', `${base}/x`), ProviderUnavailableError);
    assert.equal(hits.length, before, 'no request while the breaker is open');
    await new Promise((resolve) => setTimeout(resolve, 450));
    fallback = { status: 200, body: '{"back":true}' };
    assert.deepEqual(await c.getJson('deezer', `${base}/x`), { back: true });
    assert.equal(c.breakerState('deezer'), 'closed');
  });

  it('sends nothing when outside lookups are off', async () => {
    const c = new OutsideHttp({ enabled: false, userAgent: 'x' });
    await assert.rejects(c.getJson('deezer', `${base}/x`), OutsideLookupsDisabledError);
    assert.equal(hits.length, 0);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000);
    assert.equal(retryAfterMs('soon', now), null);
  });
});
