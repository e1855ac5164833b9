// Outside image sources, each a client of its provider's documented API through the shared,
// rate-limited HTTP client. Each returns the image bytes, or null when the provider has none.
import { z } from '../../utils/schema.js';
import { lazy } from '../../utils/lazy.js';
import { nameKey } from '../../workers/scan/names.js';
import { ProviderRequestError, ProviderUnavailableError, type OutsideHttp, type Provider } from '../http/client.js';

const MBID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function download(http: OutsideHttp, provider: Provider, url: string, signal?: AbortSignal): Promise<Buffer | null> {
  const response = await http.get(provider, url, { accept: 'image/*', ...(signal ? { signal } : {}) });
  if (response.status === 404) return null;
  if (response.status >= 400) throw new ProviderRequestError(provider, response.status, `HTTP ${response.status} for an image`);
  return response.body;
}

/**
 * Cover Art Archive: the front image of a release (`/release/{mbid}/front`, which redirects to
 * the image), else of its release group.
 */
export async function coverArtArchiveFront(http: OutsideHttp, base: string, release: string | null, releaseGroup: string | null, signal?: AbortSignal): Promise<Buffer | null> {
  if (release && MBID.test(release)) {
    const bytes = await download(http, 'coverartarchive', `${base}/release/${release.toLowerCase()}/front`, signal);
    if (bytes) return bytes;
  }
  if (releaseGroup && MBID.test(releaseGroup)) return download(http, 'coverartarchive', `${base}/release-group/${releaseGroup.toLowerCase()}/front`, signal);
  return null;
}

const deezerSearch = lazy(() =>
  z.object({
    data: z._default(z.array(z.object({ name: z.string(), picture_xl: z.nullish(z.string()), picture_big: z.nullish(z.string()) })), []),
    error: z.optional(z.object({ code: z.optional(z.number()), message: z.optional(z.string()) })),
  }),
);

/** Deezer: the picture of the artist whose name matches exactly (case and accents aside). */
export async function deezerArtistPicture(http: OutsideHttp, base: string, name: string, signal?: AbortSignal): Promise<Buffer | null> {
  const raw = await http.getJson('deezer', `${base}/search/artist?q=${encodeURIComponent(name)}&limit=10`, signal);
  if (raw === null) return null;
  const parsed = deezerSearch().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('deezer', 200, 'unexpected search answer');
  if (parsed.data.error) {
    // Deezer answers 200 with an error body; code 4 is its quota
    if (parsed.data.error.code === 4) throw new ProviderUnavailableError('deezer', Date.now() + 5_000, 'quota limit exceeded');
    throw new ProviderRequestError('deezer', 200, parsed.data.error.message ?? 'error');
  }
  const match = parsed.data.data.find((a) => nameKey(a.name) === nameKey(name));
  const url = match?.picture_xl ?? match?.picture_big;
  // an artist without a picture gets Deezer's grey silhouette, whose path has an empty image id
  if (!url || url.includes('/artist//')) return null;
  return download(http, 'deezer', url, signal);
}

/** Last.fm serves this grey star for every artist image since 2019: it is no artist's picture. */
export const LASTFM_PLACEHOLDER = '2a96cbd8b46e442fc41c2b86b821562f';

const lastfmInfo = lazy(() =>
  z.object({
    artist: z.optional(z.object({ image: z._default(z.array(z.object({ '#text': z.string(), size: z.string() })), []) })),
    error: z.optional(z.number()),
    message: z.optional(z.string()),
  }),
);

export async function lastfmArtistImage(http: OutsideHttp, base: string, apiKey: string, name: string, signal?: AbortSignal): Promise<Buffer | null> {
  const raw = await http.getJson('lastfm', `${base}/2.0/?method=artist.getinfo&artist=${encodeURIComponent(name)}&api_key=${encodeURIComponent(apiKey)}&format=json`, signal);
  if (raw === null) return null;
  const parsed = lastfmInfo().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('lastfm', 200, 'unexpected artist.getinfo answer');
  if (parsed.data.error === 6) return null; // artist not found
  if (parsed.data.error === 29) throw new ProviderUnavailableError('lastfm', Date.now() + 60_000, 'rate limit exceeded');
  if (parsed.data.error) throw new ProviderRequestError('lastfm', 200, parsed.data.message ?? `error ${parsed.data.error}`);
  const bySize = new Map((parsed.data.artist?.image ?? []).map((i) => [i.size, i['#text']]));
  const url = ['mega', 'extralarge', 'large'].map((s) => bySize.get(s)).find((u) => u && u.length > 0);
  if (!url || url.includes(LASTFM_PLACEHOLDER)) return null;
  return download(http, 'lastfm', url, signal);
}

const fanartMusic = lazy(() =>
  z.object({ artistthumb: z._default(z.array(z.object({ url: z.string(), likes: z._default(z.coerce.number(), 0) })), []) }),
);

/** fanart.tv: the most liked artist thumbnail of a MusicBrainz artist. */
export async function fanartArtistThumb(http: OutsideHttp, base: string, apiKey: string, mbid: string | null, signal?: AbortSignal): Promise<Buffer | null> {
  if (!mbid || !MBID.test(mbid)) return null;
  const raw = await http.getJson('fanarttv', `${base}/v3/music/${mbid.toLowerCase()}?api_key=${encodeURIComponent(apiKey)}`, signal);
  if (raw === null) return null;
  const parsed = fanartMusic().safeParse(raw);
  if (!parsed.success) throw new ProviderRequestError('fanarttv', 200, 'unexpected answer');
  const best = [...parsed.data.artistthumb].sort((a, b) => b.likes - a.likes)[0];
  return best ? download(http, 'fanarttv', best.url, signal) : null;
}
