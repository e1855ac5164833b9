// The one HTTP client every outside provider goes through: per-provider rate limit, timeout,
// retries with exponential backoff on 429/5xx/timeouts (honouring Retry-After), a circuit breaker
// per provider, a descriptive User-Agent, and one switch that turns every outside lookup off.
import { CircuitBreaker, realSleep, TokenBucket, type Clock, type Sleep } from './limits.js';

export const PROVIDERS = ['musicbrainz', 'coverartarchive', 'deezer', 'lastfm', 'fanarttv'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface ProviderPolicy {
  ratePerSecond: number;
  burst: number;
  timeoutMs: number;
  /** further attempts after the first, for 429/5xx/timeouts/network errors */
  retries: number;
  backoffBaseMs: number;
  /** no wait inside one request exceeds this; a longer Retry-After is handed back to the caller */
  backoffCapMs: number;
  breakerThreshold: number;
  breakerOpenMs: number;
}

const BASE: ProviderPolicy = {
  ratePerSecond: 2,
  burst: 1,
  timeoutMs: 10_000,
  retries: 3,
  backoffBaseMs: 1_000,
  backoffCapMs: 30_000,
  breakerThreshold: 5,
  breakerOpenMs: 60_000,
};

/** MusicBrainz and the Cover Art Archive ask for 1 request/s; the others get 2. */
export const DEFAULT_POLICIES: Record<Provider, ProviderPolicy> = {
  musicbrainz: { ...BASE, ratePerSecond: 1 },
  coverartarchive: { ...BASE, ratePerSecond: 1 },
  deezer: BASE,
  lastfm: BASE,
  fanarttv: BASE,
};

export class OutsideLookupsDisabledError extends Error {
  constructor() {
    super('outside lookups are turned off (SONIQUEBAY_OUTSIDE_LOOKUPS=false)');
    this.name = 'OutsideLookupsDisabledError';
  }
}

/** The provider should not be asked before `retryAt` (breaker open, or a long Retry-After). */
export class ProviderUnavailableError extends Error {
  constructor(
    readonly provider: Provider,
    readonly retryAt: number,
    reason: string,
  ) {
    super(`${provider} unavailable until ${new Date(retryAt).toISOString()}: ${reason}`);
    this.name = 'ProviderUnavailableError';
  }
}

export class ProviderRequestError extends Error {
  constructor(
    readonly provider: Provider,
    readonly status: number | null,
    message: string,
  ) {
    super(`${provider}: ${message}`);
    this.name = 'ProviderRequestError';
  }
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface OutsideHttpOptions {
  enabled: boolean;
  userAgent: string;
  policies?: Partial<Record<Provider, Partial<ProviderPolicy>>>;
  /** largest body accepted, in bytes */
  maxBodyBytes?: number;
  fetchImpl?: typeof fetch;
  now?: Clock;
  sleep?: Sleep;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

export class OutsideHttp {
  private readonly buckets = new Map<Provider, TokenBucket>();
  private readonly breakers = new Map<Provider, CircuitBreaker>();
  private readonly policies: Record<Provider, ProviderPolicy>;
  private readonly fetchImpl: typeof fetch;
  private readonly now: Clock;
  private readonly sleep: Sleep;

  constructor(private readonly options: OutsideHttpOptions) {
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.policies = Object.fromEntries(PROVIDERS.map((p) => [p, { ...DEFAULT_POLICIES[p], ...options.policies?.[p] }])) as Record<Provider, ProviderPolicy>;
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  breakerState(provider: Provider) {
    return this.breaker(provider).state;
  }

  private bucket(provider: Provider): TokenBucket {
    let bucket = this.buckets.get(provider);
    if (!bucket) {
      const policy = this.policies[provider];
      bucket = new TokenBucket(policy.ratePerSecond, policy.burst, this.now, this.sleep);
      this.buckets.set(provider, bucket);
    }
    return bucket;
  }

  private breaker(provider: Provider): CircuitBreaker {
    let breaker = this.breakers.get(provider);
    if (!breaker) {
      const policy = this.policies[provider];
      breaker = new CircuitBreaker(policy.breakerThreshold, policy.breakerOpenMs, this.now);
      this.breakers.set(provider, breaker);
    }
    return breaker;
  }

  /**
   * GET with every protection. Resolves with any final status below 500 except 429 (a 404 is an
   * answer, not a failure); throws ProviderUnavailableError or ProviderRequestError otherwise.
   */
  async get(provider: Provider, url: string, init: { accept?: string; signal?: AbortSignal } = {}): Promise<HttpResponse> {
    if (!this.options.enabled) throw new OutsideLookupsDisabledError();
    const policy = this.policies[provider];
    const breaker = this.breaker(provider);
    let lastError = 'no attempt made';
    for (let attempt = 0; attempt <= policy.retries; attempt++) {
      if (!breaker.allow()) throw new ProviderUnavailableError(provider, breaker.retryAt(), `circuit open after repeated failures (last: ${lastError})`);
      await this.bucket(provider).take();
      let wait = backoff(policy, attempt);
      try {
        const response = await this.fetchOnce(url, policy, init);
        if (!RETRYABLE.has(response.status)) {
          breaker.success();
          return response;
        }
        lastError = `HTTP ${response.status}`;
        const retryAfter = retryAfterMs(response.headers.get('retry-after'), this.now());
        if (retryAfter !== null) {
          if (retryAfter > policy.backoffCapMs) {
            breaker.failure();
            throw new ProviderUnavailableError(provider, this.now() + retryAfter, `${lastError} with Retry-After ${Math.round(retryAfter / 1000)} s`);
          }
          wait = Math.max(wait, retryAfter);
        }
      } catch (err) {
        if (err instanceof ProviderUnavailableError || init.signal?.aborted) throw err;
        lastError = err instanceof Error ? err.message : String(err);
      }
      breaker.failure();
      if (attempt < policy.retries) await this.sleep(wait);
    }
    throw new ProviderRequestError(provider, null, `gave up after ${policy.retries + 1} attempts (last: ${lastError})`);
  }

  /** GET a JSON document; a 404 resolves to null. */
  async getJson(provider: Provider, url: string, signal?: AbortSignal): Promise<unknown> {
    const response = await this.get(provider, url, { accept: 'application/json', ...(signal ? { signal } : {}) });
    if (response.status === 404) return null;
    if (response.status >= 400) throw new ProviderRequestError(provider, response.status, `HTTP ${response.status} for ${redact(url)}`);
    try {
      return JSON.parse(response.body.toString('utf8'));
    } catch {
      throw new ProviderRequestError(provider, response.status, `malformed JSON from ${redact(url)}`);
    }
  }

  private async fetchOnce(url: string, policy: ProviderPolicy, init: { accept?: string; signal?: AbortSignal }): Promise<HttpResponse> {
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        headers: { 'user-agent': this.options.userAgent, accept: init.accept ?? '*/*' },
        redirect: 'follow',
        signal,
      });
    } catch (err) {
      if (timeout.aborted) throw new Error(`timed out after ${policy.timeoutMs} ms`);
      throw err;
    }
    const max = this.options.maxBodyBytes ?? 25 * 1024 * 1024;
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > max) {
      await response.body?.cancel();
      throw new Error(`response of ${declared} bytes is larger than the ${max}-byte limit`);
    }
    let body: Buffer;
    try {
      body = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      if (timeout.aborted) throw new Error(`timed out after ${policy.timeoutMs} ms`);
      throw err;
    }
    if (body.length > max) throw new Error(`response larger than the ${max}-byte limit`);
    return { status: response.status, headers: response.headers, body };
  }
}

function backoff(policy: ProviderPolicy, attempt: number): number {
  return Math.min(policy.backoffCapMs, policy.backoffBaseMs * 2 ** attempt);
}

/** Retry-After in seconds or as an HTTP date → milliseconds from now; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** URLs are logged without their query string, where API keys live. */
function redact(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : `${url.slice(0, at)}?…`;
}
