// A synthetic library for vector tests: tracks in known groups (a tempo, a timbre, a loudness and
// a genre per group, with noise), written straight into the database as the scan and analysis
// would write them, so that neighbours can be checked against the groups.
import { ANALYSIS_VERSION } from '../../src/services/analysis/analyse_file.js';
import type { Db } from '../../src/db/types.js';
import { genreKey } from '../../src/services/genres/normalize.js';
import { nameKey } from '../../src/workers/scan/names.js';
import { seededRandom } from '../../scripts/random.js';

export interface SyntheticGroup {
  name: string;
  genre: string;
  bpm: number;
  lufs: number;
}

export const GROUPS: SyntheticGroup[] = [
  { name: 'house', genre: 'House', bpm: 124, lufs: -8 },
  { name: 'jazz', genre: 'Jazz', bpm: 92, lufs: -16 },
  { name: 'metal', genre: 'Heavy Metal', bpm: 170, lufs: -6 },
  { name: 'ambient', genre: 'Ambient', bpm: 70, lufs: -22 },
];

export interface SyntheticTrack {
  id: number;
  group: string;
  artistId: number;
}

/**
 * `perGroup` tracks per group, 3 artists per group; returns the tracks with their group. With
 * `from`, the library grows: tracks numbered from there join the root, genres and artists written
 * before.
 */
export async function insertSyntheticLibrary(db: Db, perGroup: number, seed = 7, from = 0): Promise<SyntheticTrack[]> {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const now = Date.now();
  const root = (await db.selectFrom('library_roots').select('id').where('path', '=', '/synthetic').executeTakeFirst()) ?? (await db.insertInto('library_roots').values({ path: '/synthetic', added_at: now }).returning('id').executeTakeFirstOrThrow());
  const out: SyntheticTrack[] = [];
  for (const [g, group] of GROUPS.entries()) {
    // the group's timbre: its own MFCC and contrast profile
    const mfcc = Array.from({ length: 13 }, () => gauss() * 20);
    const contrast = Array.from({ length: 7 }, () => 15 + gauss() * 5);
    const centroid = 800 + g * 900;
    const genre = (await db.selectFrom('genres').select('id').where('name_key', '=', genreKey(group.genre)).executeTakeFirst()) ?? (await db.insertInto('genres').values({ name: group.genre, name_key: genreKey(group.genre) }).returning('id').executeTakeFirstOrThrow());
    const artists: number[] = [];
    for (let a = 0; a < 3; a++) {
      const name = `${group.name} artist ${a + 1}`;
      const row = (await db.selectFrom('artists').select('id').where('name_key', '=', nameKey(name)).executeTakeFirst()) ?? (await db.insertInto('artists').values({ name, name_key: nameKey(name), created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow());
      artists.push(row.id);
    }
    for (let i = from; i < from + perGroup; i++) {
      const artistId = artists[i % artists.length]!;
      const title = `${group.name} ${i + 1}`;
      const track = await db
        .insertInto('tracks')
        .values({
          path: `/synthetic/${group.name}/${i + 1}.flac`,
          root_id: root.id,
          folder: `/synthetic/${group.name}`,
          file_size: 1000,
          mtime_ms: now,
          identity: `${group.name}-${i}`,
          title,
          artist_display: `${group.name} artist ${(i % 3) + 1}`,
          artist_id: artistId,
          year: 1980 + g * 10 + (i % 10),
          compilation: 0,
          has_lyrics: 0,
          has_picture: 0,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.insertInto('track_genres').values({ track_id: track.id, genre_id: genre.id }).execute();
      const noisy = (x: number, scale: number) => x + gauss() * scale;
      const features = {
        zcr: { mean: noisy(0.05 + g * 0.02, 0.005), variance: 0 },
        centroid: { mean: noisy(centroid, 120), variance: 0 },
        rolloff: { mean: noisy(centroid * 2.5, 300), variance: 0 },
        flatness: { mean: noisy(0.1 + g * 0.05, 0.02), variance: 0 },
        contrast: { mean: contrast.map((c) => noisy(c, 1.5)), variance: contrast.map(() => 1) },
        mfcc: { mean: mfcc.map((c) => noisy(c, 5)), variance: mfcc.map(() => 1) },
      };
      await db
        .insertInto('track_analysis')
        .values({
          track_id: track.id,
          version: ANALYSIS_VERSION,
          decoder: 'ffmpeg',
          seconds_analyzed: 90,
          analyzed_at: now,
          bpm: noisy(group.bpm, 2),
          bpm_confidence: 0.6,
          key: ['C', 'G', 'A', 'F'][i % 4]!,
          scale: i % 2 === 0 ? 'major' : 'minor',
          key_confidence: 0.2,
          camelot: '8B',
          lufs: noisy(group.lufs, 1),
          sample_peak: 0.9,
          true_peak: 0.95,
          rg_track_gain: 0,
          rg_album_gain: null,
          gated_blocks: 100,
          energy: noisy(0.3 + g * 0.1, 0.05),
          danceability: noisy(0.2 + (g === 0 ? 0.5 : 0), 0.05),
          features: JSON.stringify(features),
        })
        .execute();
      out.push({ id: track.id, group: group.name, artistId });
    }
  }
  return out;
}
