// metadata.enrich_tracks_batch: moods and genre tags from AcousticBrainz-style `ab:*` tags in the
// files (at once, after each scan batch), and Last.fm top tags when a key is configured (on the
// deferred path only: `outside: true`, queued by deferred.process_enrichment_batch).
import type { Transaction } from 'kysely';
import type { Database } from '../../db/types.js';
import { moodAndGenreTagsFromAb, normalizeGenres } from '../../services/genres/normalize.js';
import { OutsideLookupsDisabledError, ProviderUnavailableError } from '../../services/http/client.js';
import { lastfmTopTags, type WeightedTag } from '../../services/providers/tags.js';
import { failWork, markWork } from '../../services/work_state.js';
import { queueVectors } from './audio_analysis.js';
import type { TaskContext } from '../../tasks/define.js';
import { nameKey, UNKNOWN_ARTIST } from '../scan/names.js';

/** Last.fm tags below this weight (0–100) are noise */
const MIN_LASTFM_WEIGHT = 10;
const MAX_LASTFM_TAGS = 10;

interface TagRow {
  kind: 'mood' | 'genre' | 'tag';
  name: string;
  weight: number | null;
}

export async function enrichTracksBatch(payload: { trackIds: number[]; outside?: boolean }, ctx: TaskContext): Promise<{ enriched: number; lookedUp: number; failed: number }> {
  const { db, services } = ctx;
  const tracks = await db.selectFrom('tracks').select(['id', 'title', 'artist_display', 'ab_tags']).where('id', 'in', payload.trackIds).execute();
  const lastfmKey = services.covers.lastfmApiKey;
  const artistTags = new Map<string, WeightedTag[]>();
  let enriched = 0;
  let lookedUp = 0;
  let failed = 0;
  for (const track of tracks) {
    ctx.signal.throwIfAborted();
    const ab = moodAndGenreTagsFromAb(track.ab_tags ? (JSON.parse(track.ab_tags) as Record<string, string>) : {});
    const local: TagRow[] = [
      ...ab.moods.map((m) => ({ kind: 'mood' as const, name: m.name, weight: m.weight })),
      ...ab.genres.map((g) => ({ kind: 'genre' as const, name: g, weight: null })),
    ];
    await db.transaction().execute((trx) => replaceTags(trx, track.id, 'acousticbrainz', local));
    enriched++;
    const untagged = nameKey(track.artist_display) === nameKey(UNKNOWN_ARTIST);
    if (!lastfmKey || !services.http.enabled || untagged) {
      await markWork(db, 'track', track.id, 'enrichment', 'done');
      continue;
    }
    if (!payload.outside) {
      await markWork(db, 'track', track.id, 'enrichment', 'done');
      await markWork(db, 'track', track.id, 'enrichment_outside', 'pending');
      continue;
    }
    try {
      const { providerUrls } = services.covers;
      let tags = await lastfmTopTags(services.http, providerUrls.lastfm, lastfmKey, track.artist_display, track.title, ctx.signal);
      if (tags.length === 0) {
        // a track Last.fm does not know still gets its artist's tags
        const key = nameKey(track.artist_display);
        if (!artistTags.has(key)) artistTags.set(key, await lastfmTopTags(services.http, providerUrls.lastfm, lastfmKey, track.artist_display, undefined, ctx.signal));
        tags = artistTags.get(key)!;
      }
      const rows = tags
        .filter((t) => t.weight >= MIN_LASTFM_WEIGHT)
        .slice(0, MAX_LASTFM_TAGS)
        .flatMap((t): TagRow[] => {
          const [genre] = normalizeGenres([t.name]);
          if (!genre) return [];
          return [{ kind: genre.known ? 'genre' : 'tag', name: genre.name, weight: t.weight / 100 }];
        });
      await db.transaction().execute((trx) => replaceTags(trx, track.id, 'lastfm', rows));
      await markWork(db, 'track', track.id, 'enrichment_outside', 'done');
      lookedUp++;
    } catch (err) {
      if (err instanceof OutsideLookupsDisabledError) continue;
      failed++;
      const reason = err instanceof Error ? err.message : String(err);
      await failWork(db, 'track', track.id, 'enrichment_outside', reason, err instanceof ProviderUnavailableError ? err.retryAt : undefined);
      ctx.log.warn({ trackId: track.id, reason }, 'Last.fm tags failed');
    }
  }
  // tags are part of a track's vector
  await queueVectors(ctx, tracks.map((t) => t.id));
  return { enriched, lookedUp, failed };
}

/** The track's tags from one source, replaced as a whole (so a rerun leaves the same rows). */
async function replaceTags(trx: Transaction<Database>, trackId: number, source: string, rows: readonly TagRow[]): Promise<void> {
  await trx.deleteFrom('track_tags').where('track_id', '=', trackId).where('source', '=', source).execute();
  const seen = new Set<string>();
  for (const row of rows) {
    const key = nameKey(row.name);
    if (!key || seen.has(`${row.kind}:${key}`)) continue;
    seen.add(`${row.kind}:${key}`);
    const tag = await trx
      .insertInto('tags')
      .values({ kind: row.kind, name: row.name, name_key: key })
      .onConflict((oc) => oc.columns(['kind', 'name_key']).doUpdateSet({ name_key: key }))
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('track_tags')
      .values({ track_id: trackId, tag_id: tag.id, source, weight: row.weight })
      .onConflict((oc) => oc.columns(['track_id', 'tag_id']).doUpdateSet({ source, weight: row.weight }))
      .execute();
  }
}

