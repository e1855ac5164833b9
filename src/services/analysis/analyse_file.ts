// Everything a track's analysis computes from its file, as one pure call: decode once, loudness
// fed during the decode, then tempo, key/chroma and the spectral summary on the mono stream. Runs
// inside an analysis thread (pool.ts); the caller stores the result.
import { ANALYSIS_RATE, DecodeError, decodeForAnalysis, type DecodedMono, type DecoderName, type ExcerptWindow, type FileHint, type MonoScratch } from './decode.js';
import { spectralFeatures, type SpectralSummary } from './features.js';
import { keyAndChroma, type Chroma, type KeyEstimate } from './key.js';
import { LoudnessMeter, type LoudnessResult } from './loudness.js';
import { analyseRhythm, type TempoEstimate } from './tempo.js';

/** bump when a change of method changes results: every track is analysed again */
export const ANALYSIS_VERSION = 6;

/** the decoder keeps at most the first 10 minutes of the mono stream; loudness sees the whole track */
export const MAX_ANALYSED_SECONDS = 600;
/**
 * Tempo, key and the spectral summary look at up to EXCERPT_WINDOWS windows of EXCERPT_SECONDS,
 * spread evenly from the start to the end of what was kept (the first window at 0, the last one
 * ending with the track), analysed as one signal. A song's tempo, key and timbre are the same in
 * 90 seconds sampled from its beginning, middle and end as in all of it, for a third of the work
 * of a 4-minute track; a track shorter than the windows plus a quarter is analysed whole.
 */
export const EXCERPT_WINDOWS = 3;
export const EXCERPT_SECONDS = 30;
/**
 * The windows are placed from the duration the tags give, so that the decoder resamples only them;
 * when the file turns out longer or shorter than that by more than this (seconds, or share of its
 * length, whichever is larger), it is decoded again and the windows placed on what it holds.
 */
const EXCERPT_PLACEMENT_SLACK_SECONDS = 1;
const EXCERPT_PLACEMENT_SLACK_SHARE = 0.02;

export type { FileHint } from './decode.js';

export interface FileAnalysis {
  decoder: DecoderName;
  /** seconds of audio in the file */
  seconds: number;
  /** seconds of it that tempo, key and the spectral summary looked at (see EXCERPT_WINDOWS) */
  excerptSeconds: number;
  tempo: TempoEstimate;
  key: KeyEstimate;
  chroma: { mean: number[]; variance: number[] };
  spectral: SpectralSummary;
  loudness: LoudnessResult;
  /** blocks over both gates (what the track weighs in its album's loudness), null when silent */
  gatedBlocks: number | null;
}

/**
 * `scratch` lends the decoder a buffer for the mono stream (see MonoScratch); the caller must not
 * start another analysis with the same scratch before this one has settled.
 */
export async function analyseFile(
  file: string,
  hint: FileHint,
  options: { decoder?: DecoderName | 'auto'; signal?: AbortSignal; scratch?: MonoScratch } = {},
): Promise<FileAnalysis> {
  let meter: LoudnessMeter | null = null;
  const decode = (excerpt: readonly ExcerptWindow[] | null): Promise<DecodedMono> =>
    decodeForAnalysis(
      {
        file,
        hint,
        maxSeconds: MAX_ANALYSED_SECONDS,
        ...(excerpt ? { excerpt } : {}),
        ...(options.scratch ? { scratch: options.scratch } : {}),
        onLoudnessFormat: (format) => {
          meter = new LoudnessMeter(format.sampleRate, format.channels);
        },
        onLoudness: (chunk) => meter!.push(chunk),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      options.decoder ?? 'auto',
    );
  const placed = hint.seconds !== null && hint.seconds > 0 ? excerptWindows(analysedLength(hint.seconds), ANALYSIS_RATE) : null;
  let decoded = await decode(placed);
  if (decoded.excerpted && placed && misplaced(hint.seconds!, decoded.seconds)) decoded = await decode(null);
  const done = meter as LoudnessMeter | null;
  if (!done) throw new Error('the decoder announced no loudness stream');
  // a file of a few milliseconds: not one sample at the analysis rate
  if (decoded.mono.length === 0) throw new DecodeError('the file holds no audio samples');
  const excerpt = decoded.excerpted ? decoded.mono : analysisExcerpt(decoded.mono, ANALYSIS_RATE);
  const { tempo, pulse } = analyseRhythm(excerpt, ANALYSIS_RATE);
  const { key, chroma } = keyAndChroma(excerpt, ANALYSIS_RATE);
  const spectral = spectralFeatures(excerpt, ANALYSIS_RATE, pulse);
  const loudness = done.result();
  return {
    decoder: decoded.decoder,
    seconds: decoded.seconds,
    excerptSeconds: excerpt.length / ANALYSIS_RATE,
    tempo,
    key,
    chroma: plainChroma(chroma),
    spectral,
    loudness,
    gatedBlocks: gatedBlocks(done, loudness.integratedLufs),
  };
}

/** samples of the mono stream kept for a file of `seconds` (at most MAX_ANALYSED_SECONDS) */
function analysedLength(seconds: number): number {
  return Math.round(Math.min(seconds, MAX_ANALYSED_SECONDS) * ANALYSIS_RATE);
}

/** whether windows placed for `hinted` seconds are misplaced in a file of `actual` seconds */
function misplaced(hinted: number, actual: number): boolean {
  const [a, b] = [Math.min(hinted, MAX_ANALYSED_SECONDS), Math.min(actual, MAX_ANALYSED_SECONDS)];
  return Math.abs(a - b) > Math.max(EXCERPT_PLACEMENT_SLACK_SECONDS, EXCERPT_PLACEMENT_SLACK_SHARE * b);
}

/**
 * The EXCERPT_WINDOWS windows of a mono stream of `length` samples: the first at 0, the last
 * ending with the stream, evenly spread; null when the stream is short enough to analyse whole.
 */
export function excerptWindows(length: number, sampleRate: number): ExcerptWindow[] | null {
  const window = Math.round(EXCERPT_SECONDS * sampleRate);
  if (length <= window * EXCERPT_WINDOWS * 1.25) return null;
  const step = (length - window) / (EXCERPT_WINDOWS - 1);
  return Array.from({ length: EXCERPT_WINDOWS }, (_, w) => ({ start: Math.round(w * step), length: window }));
}

/** the windows of `excerptWindows` joined, or the whole signal when it is short enough */
export function analysisExcerpt(mono: Float32Array, sampleRate: number): Float32Array {
  const windows = excerptWindows(mono.length, sampleRate);
  if (!windows) return mono;
  const out = new Float32Array(windows.reduce((n, w) => n + w.length, 0));
  let at = 0;
  for (const w of windows) {
    out.set(mono.subarray(w.start, w.start + w.length), at);
    at += w.length;
  }
  return out;
}

function plainChroma(chroma: Chroma): { mean: number[]; variance: number[] } {
  return { mean: [...chroma.mean], variance: [...chroma.variance] };
}

/** blocks that pass both gates: how much of the track counts in its album's loudness */
function gatedBlocks(meter: LoudnessMeter, lufs: number | null): number | null {
  if (lufs === null) return null;
  const threshold = Math.max(-70, lufs - 10);
  let n = 0;
  for (const meanSquare of meter.blocks()) if (-0.691 + 10 * Math.log10(meanSquare) >= threshold) n++;
  return n;
}
