// metadata.analyze_audio_batch: decodes each track once (ffmpeg, else WASM) and stores, with the analysis
// version: BPM and its confidence, key/scale/Camelot, EBU R128 loudness with sample and true peak,
// ReplayGain track gain (album gain once the whole album is analysed), energy, a danceability proxy
// and the spectral/MFCC/chroma summary the vectors are built from. The work itself runs in the
// analysis threads (services.analysis): the tracks of a batch go to them together, one per thread,
// and the results are written here as they come back.
import { openableLibraryFile, OutsideRootsError } from '../../services/library/roots.js';
import { ANALYSIS_VERSION, type FileAnalysis } from '../../services/analysis/analyse_file.js';
import { DecodeError } from '../../services/analysis/decode.js';
import { replayGainTrackGain } from '../../services/analysis/loudness.js';
import { failWork, markWork } from '../../services/work_state.js';
import type { Db } from '../../db/types.js';
import type { TaskContext } from '../../tasks/define.js';


/**
 * `skipCurrent` leaves the tracks whose analysis is already current (see `currentAnalyses`): a scan's
 * follow-up job and the `analyze` command's jobs for the same tracks then analyse each once,
 * whichever runs first. What follows an analysis (album gain, vectors) is still done for them: a
 * retry of a job that died between the two finds them current and must not lose it. Without
 * `skipCurrent` (an explicit request), every named track is analysed again.
 */
export async function analyzeAudioBatch(
  payload: { trackIds: number[]; skipCurrent?: boolean },
  ctx: TaskContext,
): Promise<{ analysed: number; failed: number; current: number }> {
  const { db } = ctx;
  const skipped = payload.skipCurrent ? new Set(await currentAnalyses(db, payload.trackIds)) : new Set<number>();
  const named = await db.selectFrom('tracks').select(['id', 'path', 'channels', 'sample_rate', 'bit_depth', 'lossless', 'codec', 'duration', 'album_id']).where('id', 'in', payload.trackIds).execute();
  const tracks = named.filter((t) => !skipped.has(t.id));
  const current = named.filter((t) => skipped.has(t.id));
  if (!ctx.services.analysisEnabled) {
    for (const track of tracks) await markWork(db, 'track', track.id, 'analysis', 'done', { error: 'analysis is off: the values in the file tags stand in' });
    await queueVectors(ctx, named.map((t) => t.id));
    return { analysed: 0, failed: 0, current: current.length };
  }
  let analysed = 0;
  let failed = 0;
  const albums = new Set(current.flatMap((t) => (t.album_id === null ? [] : [t.album_id])));
  const done = current.map((t) => t.id);
  const hintOf = (t: (typeof tracks)[number]) => ({ sampleRate: t.sample_rate, channels: t.channels, seconds: t.duration, bitDepth: integerBits(t) });
  // every track is handed to the pool at once (it runs as many as it has threads); each result is
  // stored as soon as it arrives, in the order they finish; all settle before the job ends, so no
  // analysis of this job is still writing when a retry of it starts
  const outcomes = await Promise.allSettled(
    tracks.map(async (track) => {
      try {
        const result = await ctx.services.analysis.analyse(await openableLibraryFile(db, track.path), hintOf(track), { signal: ctx.signal });
        await storeAnalysis(db, track.id, result);
        await markWork(db, 'track', track.id, 'analysis', 'done');
        if (track.album_id !== null) albums.add(track.album_id);
        done.push(track.id);
        analysed++;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        failed++;
        const reason = err instanceof Error ? err.message : String(err);
        // a file the decoder cannot read will not decode next time either
        if (err instanceof DecodeError || err instanceof OutsideRootsError) await markWork(db, 'track', track.id, 'analysis', 'failed', { error: reason });
        else await failWork(db, 'track', track.id, 'analysis', reason);
        ctx.log.warn({ trackId: track.id, path: track.path, reason }, 'audio analysis failed');
      }
      await ctx.progress({ stage: 'analysis', analysed, failed, total: tracks.length });
    }),
  );
  const broken = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (broken) throw broken.reason;
  for (const album of albums) await albumGain(db, album);
  await queueVectors(ctx, done);
  return { analysed, failed, current: current.length };
}

/**
 * The bits of a file's samples when they are lossless integers (FLAC, ALAC, WAV/AIFF PCM, WavPack,
 * Monkey's Audio); null otherwise. Lossy codecs' tags often give a nominal 16 bits (AAC, WMA), but
 * their decoders make floats that may pass full scale; DSD's are floats too.
 */
function integerBits(track: { bit_depth: number | null; lossless: number | null; codec: string | null }): number | null {
  const { bit_depth: bits, lossless, codec } = track;
  return lossless === 1 && bits !== null && bits >= 8 && !/dsd/i.test(codec ?? '') ? bits : null;
}

/**
 * The tracks among `trackIds` whose analysis is current: done at this analysis version since their
 * file last changed (a scan that finds a file changed marks its analysis pending again).
 */
export async function currentAnalyses(db: Db, trackIds: readonly number[]): Promise<number[]> {
  const found: number[] = [];
  for (let i = 0; i < trackIds.length; i += CURRENT_CHUNK) {
    const rows = await db
      .selectFrom('work_state')
      .innerJoin('track_analysis', 'track_analysis.track_id', 'work_state.entity_id')
      .select('work_state.entity_id')
      .where('work_state.entity_type', '=', 'track')
      .where('work_state.stage', '=', 'analysis')
      .where('work_state.status', '=', 'done')
      .where('track_analysis.version', '=', ANALYSIS_VERSION)
      .where('work_state.entity_id', 'in', trackIds.slice(i, i + CURRENT_CHUNK))
      .execute();
    for (const row of rows) found.push(row.entity_id);
  }
  return found;
}

/** ids per query (SQLite's bound-parameter limit is far above it) */
const CURRENT_CHUNK = 500;

/** the vectors of tracks whose inputs just changed (they are ready once analysed) */
export async function queueVectors(ctx: TaskContext, trackIds: number[]): Promise<void> {
  if (trackIds.length > 0) await ctx.enqueue('vectorization.calculate_vectors_batch', { trackIds });
}

async function storeAnalysis(db: Db, trackId: number, result: FileAnalysis): Promise<void> {
  const { tempo, key, loudness, spectral } = result;
  const lufs = loudness.integratedLufs;
  const row = {
    track_id: trackId,
    version: ANALYSIS_VERSION,
    decoder: result.decoder,
    seconds_analyzed: result.excerptSeconds,
    analyzed_at: Date.now(),
    bpm: tempo.confidence > 0 ? round(tempo.bpm, 2) : null,
    bpm_confidence: round(tempo.confidence, 3),
    bpm_alternative: tempo.confidence > 0 && tempo.alternative != null ? round(tempo.alternative, 2) : null,
    key: key.confidence > 0 ? key.key : null,
    scale: key.confidence > 0 ? key.scale : null,
    key_confidence: round(key.confidence, 3),
    camelot: key.confidence > 0 ? key.camelot : null,
    lufs: lufs === null ? null : round(lufs, 2),
    sample_peak: round(loudness.samplePeak, 5),
    true_peak: round(loudness.truePeak, 5),
    rg_track_gain: lufs === null ? null : round(replayGainTrackGain(lufs), 2),
    rg_album_gain: null,
    gated_blocks: result.gatedBlocks,
    energy: round(spectral.energy, 4),
    danceability: round(spectral.danceability, 4),
    features: JSON.stringify({ ...spectral, chroma: result.chroma }, (_, v: unknown) => (typeof v === 'number' ? round(v, 5) : v)),
  };
  await db
    .insertInto('track_analysis')
    .values(row)
    .onConflict((oc) => oc.column('track_id').doUpdateSet(row))
    .execute();
}

/**
 * Album gain once every track of the album is analysed: the album's loudness is the gated-block
 * weighted mean of its tracks' energies (the album-level relative gate is approximated by the
 * tracks' own), and gain = −18 − loudness, as for tracks.
 */
async function albumGain(db: Db, albumId: number): Promise<void> {
  const rows = await db
    .selectFrom('tracks')
    .leftJoin('track_analysis', 'track_analysis.track_id', 'tracks.id')
    .select(['tracks.id', 'track_analysis.lufs', 'track_analysis.gated_blocks', 'track_analysis.version'])
    .where('tracks.album_id', '=', albumId)
    .execute();
  if (rows.some((r) => r.version !== ANALYSIS_VERSION)) return; // not complete yet
  let energy = 0;
  let blocks = 0;
  for (const r of rows) {
    if (r.lufs === null || !r.gated_blocks) continue;
    energy += r.gated_blocks * 10 ** ((r.lufs + 0.691) / 10);
    blocks += r.gated_blocks;
  }
  if (blocks === 0) return;
  const albumLufs = -0.691 + 10 * Math.log10(energy / blocks);
  await db
    .updateTable('track_analysis')
    .set({ rg_album_gain: round(-18 - albumLufs, 2) })
    .where('track_id', 'in', rows.map((r) => r.id))
    .execute();
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
