// Last.fm artist details (artist.getInfo) and similar artists (artist.getSimilar), as documented at
// https://www.last.fm/api/show/artist.getInfo and …/artist.getSimilar: JSON answers whose numbers
// come as strings, a single item sometimes not wrapped in an array, and errors as HTTP 200 (or 4xx)
// bodies {error, message}: 6 = not found, 29 = rate limit, 10/26 = bad or suspended API key.
import { z } from '../../utils/schema.js';
import { lazy } from '../../utils/lazy.js';
import { ProviderRequestError, ProviderUnavailableError, type OutsideHttp } from '../http/client.js';

export interface LastfmArtistQuery {
  name: string;
  /** MusicBrainz artist id: asked first when present (Last.fm matches it exactly) */
  mbid?: string | null;
}

export interface LastfmArtistInfo {
  name: string;
  mbid: string | null;
  url: string | null;
  listeners: number | null;
  playcount: number | null;
  tags: string[];
  /** the biography's summary, without Last.fm's trailing "Read more" link */
  bio: string | null;
}

export interface LastfmSimilarArtist {
  name: string;
  mbid: string | null;
  /** 0–1 */
  match: number;
}

const oneOrMany = <T extends z.ZodMiniType>(item: T) => {
  const oneOrList = z.optional(z.union([z.array(item), item]));
  return z.pipe(oneOrList, z.transform((v: z.infer<typeof oneOrList>) => (v === undefined ? [] : Array.isArray(v) ? v : [v]) as z.infer<T>[]));
};
const count = () =>
  z.pipe(
    z.optional(z.union([z.string(), z.number()])),
    z.transform((v: string | number | undefined) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Math.trunc(Number(v)))),
  );
const errorBody = () => ({ error: z.optional(z.number()), message: z.optional(z.string()) });

const info = lazy(() =>
  z.object({
    artist: z.optional(
      z.object({
        name: z.string(),
        mbid: z.optional(z.string()),
        url: z.optional(z.string()),
        stats: z.optional(z.object({ listeners: count(), playcount: count() })),
        tags: z.optional(z.union([z.object({ tag: oneOrMany(z.object({ name: z.string() })) }), z.string()])),
        bio: z.optional(z.object({ summary: z.optional(z.string()) })),
      }),
    ),
    ...errorBody(),
  }),
);

const similar = lazy(() =>
  z.object({
    similarartists: z.optional(z.object({ artist: oneOrMany(z.object({ name: z.string(), mbid: z.optional(z.string()), match: z.optional(z.union([z.string(), z.number()])) })) })),
    ...errorBody(),
  }),
);

const MBID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function call(http: OutsideHttp, base: string, apiKey: string, method: string, query: LastfmArtistQuery, extra: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
  const params = new URLSearchParams({ method, api_key: apiKey, format: 'json', autocorrect: '1', ...extra });
  if (query.mbid && MBID.test(query.mbid)) params.set('mbid', query.mbid.toLowerCase());
  else params.set('artist', query.name);
  return http.getJson('lastfm', `${base}/2.0/?${params.toString()}`, signal);
}

/** the error a Last.fm body carries, as our errors; null when it says "not found" */
function checkError(body: { error?: number | undefined; message?: string | undefined }, method: string): 'not-found' | undefined {
  if (body.error === undefined) return undefined;
  if (body.error === 6) return 'not-found';
  if (body.error === 29) throw new ProviderUnavailableError('lastfm', Date.now() + 60_000, 'rate limit exceeded (error 29)');
  if (body.error === 11 || body.error === 16) throw new ProviderUnavailableError('lastfm', Date.now() + 60_000, `service temporarily unavailable (error ${body.error})`);
  throw new ProviderRequestError('lastfm', 200, `${method}: ${body.message ?? 'error'} (error ${body.error})`);
}

function stripReadMore(summary: string | undefined): string | null {
  const text = (summary ?? '').replace(/\s*<a href="[^"]*last\.fm[^"]*"[^>]*>Read more on Last\.fm<\/a>\.?\s*$/i, '').trim();
  return text === '' ? null : text;
}

/** artist.getInfo; null when Last.fm does not know the artist */
export async function lastfmArtistInfo(http: OutsideHttp, base: string, apiKey: string, query: LastfmArtistQuery, signal?: AbortSignal): Promise<LastfmArtistInfo | null> {
  const raw = await call(http, base, apiKey, 'artist.getinfo', query, {}, signal);
  if (raw === null) return null;
  const parsed = info().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('lastfm', 200, 'unexpected artist.getinfo answer');
  if (checkError(parsed.data, 'artist.getinfo') === 'not-found' || !parsed.data.artist) return null;
  const a = parsed.data.artist;
  const tags = typeof a.tags === 'object' ? a.tags.tag.map((t) => t.name.trim()).filter((t) => t.length > 0) : [];
  return {
    name: a.name,
    mbid: a.mbid && MBID.test(a.mbid) ? a.mbid : null,
    url: a.url ?? null,
    listeners: a.stats?.listeners ?? null,
    playcount: a.stats?.playcount ?? null,
    tags,
    bio: stripReadMore(a.bio?.summary),
  };
}

/** artist.getSimilar, strongest first; empty when Last.fm does not know the artist */
export async function lastfmSimilarArtists(http: OutsideHttp, base: string, apiKey: string, query: LastfmArtistQuery, limit: number, signal?: AbortSignal): Promise<LastfmSimilarArtist[]> {
  const raw = await call(http, base, apiKey, 'artist.getsimilar', query, { limit: String(limit) }, signal);
  if (raw === null) return [];
  const parsed = similar().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('lastfm', 200, 'unexpected artist.getsimilar answer');
  if (checkError(parsed.data, 'artist.getsimilar') === 'not-found') return [];
  return (parsed.data.similarartists?.artist ?? [])
    .map((a) => ({ name: a.name.trim(), mbid: a.mbid && MBID.test(a.mbid) ? a.mbid : null, match: Math.max(0, Math.min(1, Number(a.match ?? 0) || 0)) }))
    .filter((a) => a.name.length > 0)
    .sort((x, y) => y.match - x.match)
    .slice(0, limit);
}
