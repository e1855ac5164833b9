// Last.fm top tags (artist.getTopTags / track.getTopTags): folksonomy tags with a 0–100 weight.
import { z } from '../../utils/schema.js';
import { lazy } from '../../utils/lazy.js';
import { ProviderRequestError, ProviderUnavailableError, type OutsideHttp } from '../http/client.js';

const topTags = lazy(() =>
  z.object({
    toptags: z.optional(z.object({ tag: z.optional(z.union([z.array(z.object({ name: z.string(), count: z.coerce.number() })), z.object({ name: z.string(), count: z.coerce.number() })])) })),
    error: z.optional(z.number()),
    message: z.optional(z.string()),
  }),
);

export interface WeightedTag {
  name: string;
  /** 0–100, Last.fm's relative count */
  weight: number;
}

/** Tags of a track (when `track` is given) or of an artist, strongest first; empty when unknown. */
export async function lastfmTopTags(http: OutsideHttp, base: string, apiKey: string, artist: string, track?: string, signal?: AbortSignal): Promise<WeightedTag[]> {
  const method = track ? 'track.gettoptags' : 'artist.gettoptags';
  const params = new URLSearchParams({ method, artist, api_key: apiKey, format: 'json', autocorrect: '1' });
  if (track) params.set('track', track);
  const raw = await http.getJson('lastfm', `${base}/2.0/?${params.toString()}`, signal);
  if (raw === null) return [];
  const parsed = topTags().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('lastfm', 200, `unexpected ${method} answer`);
  if (parsed.data.error === 6) return [];
  if (parsed.data.error === 29) throw new ProviderUnavailableError('lastfm', Date.now() + 60_000, 'rate limit exceeded');
  if (parsed.data.error) throw new ProviderRequestError('lastfm', 200, parsed.data.message ?? `error ${parsed.data.error}`);
  const tags = parsed.data.toptags?.tag;
  const list = tags === undefined ? [] : Array.isArray(tags) ? tags : [tags];
  return list.filter((t) => t.name.trim().length > 0).map((t) => ({ name: t.name.trim(), weight: Math.max(0, Math.min(100, t.count)) }));
}
