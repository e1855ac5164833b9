// Tempo (BPM) estimation from mono PCM.
//
// Pipeline: decimate to ~11 kHz → STFT → log-compressed band energies → spectral flux
// (onset-strength envelope) → autocorrelation → prior-weighted comb search over 60–200 BPM →
// metrical-level (octave) check → sub-frame refinement from several autocorrelation peaks.
import { createFft, type FFT } from './fft.js';

export interface TempoEstimate {
  bpm: number;
  /**
   * Another metrical level that also qualified as the beat (half or double time, a triple reading),
   * the strongest of them: a listener may well tap that one. Absent when no other level qualified.
   */
  alternative?: number;
  /** 0 = no periodic pulse found (silence, noise), 1 = strong, regular pulse */
  confidence: number;
}

export const MIN_BPM = 60;
export const MAX_BPM = 200;

/** Fallback answer when nothing periodic can be measured. */
const NO_TEMPO: TempoEstimate = { bpm: 120, confidence: 0 };

/** Working sample rate is sampleRate / factor, kept near 11 kHz: enough for drums, half the FFT cost. */
const TARGET_WORK_RATE = 11025;
const FRAME_SECONDS = 0.046;
/** ≈43 envelope frames per second: coarse, but the refinement below recovers sub-frame precision. */
const HOP_SECONDS = 0.0232;
const BAND_COUNT = 24;
const BAND_MIN_HZ = 30;
/** Log compression gain applied to band energy relative to the signal's mean band energy. */
const LOG_GAIN = 100;
/** Window (s) of the moving average removed from the envelope, so loudness changes do not read as pulse. */
const LOCAL_MEAN_SECONDS = 1;

/** Log-normal tempo prior: centre and width in octaves. */
const PRIOR_CENTRE_BPM = 120;
const PRIOR_OCTAVES = 1;
/**
 * A faster metrical level is taken as the beat when its prior-weighted periodicity is at least this share
 * of the strongest level's. A level's periodicity is the mean of the autocorrelation peak at its period
 * and of the comb over its first COMB_MULTIPLES multiples (a subdivision that recurs at one period but
 * not at every beat after it scores less), under a wider prior than the comb search's, centred on
 * 140 BPM. The three were chosen together on the development part of the accuracy set
 * (bench/accuracy.bench.ts) under the synthetic tests' constraint: the old single-peak rule (ratio 0.5,
 * the 120 BPM prior) doubled slow pieces whose eighths are busy.
 */
const LEVEL_RATIO = 0.75;
const LEVEL_PRIOR_CENTRE_BPM = 140;
const LEVEL_PRIOR_OCTAVES = 1.3;
/** Multiples of the period summed by the comb. */
const COMB_MULTIPLES = 4;
/** Longest lag (s) used for the refinement: several beat multiples give sub-frame precision. */
const REFINE_MAX_SECONDS = 10;
/**
 * Levels may lie 2 % past the range (so that a 200 BPM piece is not lost to the lag's rounding), and the
 * fastest candidate wins: a beat that refines to more than 1 % over MAX_BPM is read at half tempo, inside
 * the range, instead of being clamped to 200 (a 102 BPM piece was reported at 200, neither its beat nor
 * its double).
 */
const OVER_RANGE_FOLD = 1.01;
const GRID_STEP = 0.002; // log2 step of the candidate BPM grid (~0.14 %)

/**
 * What the onset envelope says of the beat beyond its tempo (inputs of the danceability proxy in
 * features.ts).
 */
export interface Pulse {
  /**
   * 0–1: the highest normalised autocorrelation of the onset envelope over lags of 90–150 BPM
   * (floored at 0). A steady pulse in that range repeats its onset pattern one beat later (→ near 1);
   * rubato, drones and noise do not (→ near 0).
   */
  regularity: number;
  /**
   * The envelope's total rise over the total log band level: how much of the spectrum rises from
   * frame to frame. Steady tones and stationary noise stay low; drums are high.
   */
  onsetStrength: number;
}

export interface Rhythm {
  tempo: TempoEstimate;
  pulse: Pulse;
}

const NO_PULSE: Pulse = { regularity: 0, onsetStrength: 0 };
const PULSE_MIN_BPM = 90;
const PULSE_MAX_BPM = 150;

export function estimateTempo(signal: Float32Array, sampleRate: number): TempoEstimate {
  return analyseRhythm(signal, sampleRate).tempo;
}

/** Tempo and pulse from one onset envelope. */
export function analyseRhythm(signal: Float32Array, sampleRate: number): Rhythm {
  const none = { tempo: NO_TEMPO, pulse: NO_PULSE };
  if (!(sampleRate > 0) || signal.length === 0) return none;
  const envelope = onsetEnvelope(signal, sampleRate);
  if (envelope === null) return none;
  const { values, frameRate } = envelope;
  const maxLag = Math.min(values.length >> 1, Math.ceil(REFINE_MAX_SECONDS * frameRate));
  // Need at least one full slowest-beat period of lag (≈2 s of audio).
  if (maxLag < (60 * frameRate) / MIN_BPM + 2) return none;
  const acf = autocorrelation(values, maxLag);
  if (acf === null) return none;

  const initial = bestCombPeriod(acf, frameRate);
  const level = chooseMetricalLevel(acf, initial, frameRate);
  let refined = refinePeriod(acf, level.period);
  let alternativePeriod = level.alternative;
  if ((60 * frameRate) / refined > MAX_BPM * OVER_RANGE_FOLD) {
    refined = refinePeriod(acf, 2 * refined);
    // the level given up is out of range; an alternative that is the new beat is no alternative
    if (alternativePeriod !== null && Math.abs(alternativePeriod / refined - 1) < 0.02) alternativePeriod = null;
  }
  const bpm = clamp((60 * frameRate) / refined, MIN_BPM, MAX_BPM);
  const alternative = alternativePeriod === null ? null : clamp((60 * frameRate) / refinePeriod(acf, alternativePeriod), MIN_BPM, MAX_BPM);
  return {
    tempo: {
      bpm: Math.round(bpm * 100) / 100,
      confidence: Math.round(confidenceOf(acf, refined) * 1000) / 1000,
      ...(alternative === null ? {} : { alternative: Math.round(alternative * 100) / 100 }),
    },
    pulse: { regularity: pulseRegularity(acf, frameRate), onsetStrength: envelope.onsetStrength },
  };
}

/** See `Pulse.regularity`; the autocorrelation is read every 0.05 frame between integer lags. */
function pulseRegularity(acf: Float64Array, frameRate: number): number {
  let best = 0;
  for (let lag = (60 * frameRate) / PULSE_MAX_BPM, last = (60 * frameRate) / PULSE_MIN_BPM; lag <= last; lag += 0.05) {
    const v = acfAt(acf, lag);
    if (v > best) best = v;
  }
  return Math.min(1, best);
}

// ---------------------------------------------------------------------------------------------
// Onset-strength envelope

interface Envelope {
  values: Float64Array;
  frameRate: number;
  /** see `Pulse.onsetStrength` */
  onsetStrength: number;
}

function onsetEnvelope(signal: Float32Array, sampleRate: number): Envelope | null {
  const factor = Math.max(1, Math.floor(sampleRate / TARGET_WORK_RATE + 1e-9));
  const work = decimate(signal, factor);
  const workRate = sampleRate / factor;
  const frameSize = 2 ** Math.round(Math.log2(FRAME_SECONDS * workRate));
  const hop = Math.max(1, Math.round(HOP_SECONDS * workRate));
  if (work.length < frameSize + 2 * hop) return null;
  const bands = bandEnergies(work, workRate, frameSize, hop);
  const flux = spectralFlux(bands.energies, bands.frames);
  if (flux === null) return null;
  const frameRate = workRate / hop;
  return { values: conditionEnvelope(flux.flux, frameRate), frameRate, onsetStrength: flux.levelSum > 0 ? flux.riseSum / flux.levelSum : 0 };
}

/** Boxcar average + downsample. The crude anti-alias is deliberate: aliased cymbal energy still marks onsets. */
function decimate(signal: Float32Array, factor: number): Float32Array {
  if (factor === 1) return signal;
  const out = new Float32Array(Math.floor(signal.length / factor));
  if (factor === 2) {
    for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = 0.5 * (signal[j]! + signal[j + 1]!);
    return out;
  }
  const scale = 1 / factor;
  for (let i = 0, j = 0; i < out.length; i++) {
    let sum = 0;
    for (let k = 0; k < factor; k++, j++) sum += signal[j]!;
    out[i] = sum * scale;
  }
  return out;
}

/**
 * Bin ranges of BAND_COUNT log-spaced bands: band b covers bins [edges[b], edges[b + 1]).
 * Bands narrower than a bin stay empty, which is harmless for the flux.
 */
function bandEdges(frameSize: number, workRate: number): Int32Array {
  const bins = frameSize / 2 + 1;
  const edges = new Int32Array(BAND_COUNT + 1);
  const binHz = workRate / frameSize;
  const ratio = workRate / 2 / BAND_MIN_HZ;
  for (let b = 0; b <= BAND_COUNT; b++) {
    const hz = BAND_MIN_HZ * ratio ** (b / BAND_COUNT);
    edges[b] = Math.min(bins, Math.max(1, Math.ceil(hz / binHz)));
  }
  edges[BAND_COUNT] = bins;
  return edges;
}

/**
 * Band energies of Hann-windowed frames, two frames per complex FFT (frame f in the real part, f + 1 in
 * the imaginary part): for real inputs x, y and Z = FFT(x + iy), X[k] = (Z[k] + conj Z[N−k]) / 2 and
 * Y[k] = (Z[k] − conj Z[N−k]) / 2i. That is about a third cheaper than two real transforms, and the FFT
 * is most of the running time.
 */
function bandEnergies(
  work: Float32Array,
  workRate: number,
  frameSize: number,
  hop: number,
): { energies: Float32Array; frames: number } {
  const frames = Math.floor((work.length - frameSize) / hop) + 1;
  const energies = new Float32Array(frames * BAND_COUNT);
  const edges = bandEdges(frameSize, workRate);
  const window = new Float64Array(frameSize);
  for (let i = 0; i < frameSize; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameSize);
  const scratch: PairScratch = { fft: createFft(frameSize), window, edges, input: new Float64Array(2 * frameSize), spectrum: new Float64Array(2 * frameSize) };
  // one call per pair of frames: V8 optimises a function called often, where a long loop in a
  // once-a-track function keeps dropping back to the interpreter (see features.ts)
  for (let f = 0; f < frames; f += 2) pairEnergies(work, f * hop, hop, f + 1 < frames, scratch, energies, f * BAND_COUNT);
  return { energies, frames };
}

interface PairScratch {
  fft: FFT;
  window: Float64Array;
  edges: Int32Array;
  input: Float64Array;
  spectrum: Float64Array;
}

/** band energies of the frame at `a` and (when `hasSecond`) of the one a hop later, into energies[at …] */
function pairEnergies(work: Float32Array, a: number, hop: number, hasSecond: boolean, s: PairScratch, energies: Float32Array, at: number): void {
  const { fft, window, edges, input, spectrum } = s;
  const frameSize = window.length;
  const b = a + hop;
  for (let i = 0; i < frameSize; i++) {
    input[2 * i] = work[a + i]! * window[i]!;
    input[2 * i + 1] = hasSecond ? work[b + i]! * window[i]! : 0;
  }
  fft.transform(spectrum, input);
  const second = at + BAND_COUNT;
  for (let band = 0; band < BAND_COUNT; band++) {
    let sumX = 0;
    let sumY = 0;
    for (let k = edges[band]!, end = edges[band + 1]!; k < end; k++) {
      const mirror = (frameSize - k) % frameSize;
      const re = spectrum[2 * k]!;
      const im = spectrum[2 * k + 1]!;
      const reM = spectrum[2 * mirror]!;
      const imM = spectrum[2 * mirror + 1]!;
      // 4·|X|² and 4·|Y|²; the common factor does not matter (energies are normalised later).
      sumX += (re + reM) * (re + reM) + (im - imM) * (im - imM);
      sumY += (im + imM) * (im + imM) + (re - reM) * (re - reM);
    }
    energies[at + band] = sumX;
    if (hasSecond) energies[second + band] = sumY;
  }
}

/**
 * Sum over bands of the half-wave-rectified rise of log energy, with the totals of the rises and of
 * the log energies (frames after the first). Null when the input is silent.
 */
function spectralFlux(energies: Float32Array, frames: number): { flux: Float64Array; riseSum: number; levelSum: number } | null {
  const mean = sumOf(energies) / energies.length;
  if (!(mean > 1e-20)) return null;
  // Relative to the mean so the envelope does not depend on the playback level.
  logCompress(energies, LOG_GAIN / mean);
  const flux = new Float64Array(frames);
  const sums = { rise: 0, level: 0 };
  // per frame, for the reason given in bandEnergies
  for (let f = 1; f < frames; f++) flux[f] = frameRise(energies, f * BAND_COUNT, sums);
  return { flux, riseSum: sums.rise, levelSum: sums.level };
}

function sumOf(values: Float32Array): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

function logCompress(values: Float32Array, gain: number): void {
  for (let i = 0; i < values.length; i++) values[i] = Math.log1p(gain * values[i]!);
}

/** the rectified rise of the frame at `cur` over the one before it; adds it and the frame's level to `sums` */
function frameRise(energies: Float32Array, cur: number, sums: { rise: number; level: number }): number {
  const prev = cur - BAND_COUNT;
  let rise = 0;
  let level = 0;
  for (let b = 0; b < BAND_COUNT; b++) {
    const up = energies[cur + b]! - energies[prev + b]!;
    if (up > 0) rise += up;
    level += energies[cur + b]!;
  }
  sums.rise += rise;
  sums.level += level;
  return rise;
}

/** Remove the local mean, half-wave rectify, smooth lightly, then make zero-mean for the autocorrelation. */
function conditionEnvelope(flux: Float64Array, frameRate: number): Float64Array {
  const n = flux.length;
  const half = Math.max(1, Math.round((LOCAL_MEAN_SECONDS * frameRate) / 2));
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + flux[i]!;
  const rectified = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    const local = (prefix[hi]! - prefix[lo]!) / (hi - lo);
    rectified[i] = Math.max(0, flux[i]! - local);
  }
  const out = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const left = rectified[i - 1] ?? rectified[i]!;
    const right = rectified[i + 1] ?? rectified[i]!;
    out[i] = 0.25 * left + 0.5 * rectified[i]! + 0.25 * right;
    sum += out[i]!;
  }
  const mean = sum / n;
  for (let i = 0; i < n; i++) out[i]! -= mean;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Periodicity

/** Unbiased autocorrelation for lags 0..maxLag, normalised so acf[0] = 1. Null for a flat envelope. */
function autocorrelation(values: Float64Array, maxLag: number): Float64Array | null {
  const n = values.length;
  const acf = new Float64Array(maxLag + 1);
  for (let lag = 0; lag <= maxLag; lag++) {
    let sum = 0;
    for (let i = 0, j = lag; j < n; i++, j++) sum += values[i]! * values[j]!;
    acf[lag] = sum / (n - lag);
  }
  const zero = acf[0]!;
  if (!(zero > 1e-12)) return null;
  for (let lag = 0; lag <= maxLag; lag++) acf[lag]! /= zero;
  return acf;
}

/** Linear interpolation of the autocorrelation at a fractional lag (NaN outside the computed range). */
function acfAt(acf: Float64Array, lag: number): number {
  const i = Math.floor(lag);
  if (i < 0 || i + 1 >= acf.length) return Number.NaN;
  const t = lag - i;
  return acf[i]! * (1 - t) + acf[i + 1]! * t;
}

/** Mean autocorrelation at the first COMB_MULTIPLES multiples of the period (those inside the range). */
function combScore(acf: Float64Array, period: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 1; k <= COMB_MULTIPLES; k++) {
    const value = acfAt(acf, k * period);
    if (Number.isNaN(value)) break;
    sum += value;
    count++;
  }
  return count === 0 ? Number.NEGATIVE_INFINITY : sum / count;
}

function tempoPrior(bpm: number, centre = PRIOR_CENTRE_BPM, width = PRIOR_OCTAVES): number {
  const octaves = Math.log2(bpm / centre) / width;
  return Math.exp(-0.5 * octaves * octaves);
}

/** Period (frames) maximising comb score × prior over the allowed BPM range. */
function bestCombPeriod(acf: Float64Array, frameRate: number): number {
  let bestPeriod = (60 * frameRate) / PRIOR_CENTRE_BPM;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let l = Math.log2(MIN_BPM); l <= Math.log2(MAX_BPM); l += GRID_STEP) {
    const bpm = 2 ** l;
    const period = (60 * frameRate) / bpm;
    // Only positive evidence is weighted; the prior must not turn a negative score into a winner.
    const score = Math.max(0, combScore(acf, period)) * tempoPrior(bpm);
    if (score > bestScore) {
      bestScore = score;
      bestPeriod = period;
    }
  }
  return bestPeriod;
}

/** Tallest autocorrelation value within ±tolerance of a lag (absorbs the grid/quantisation error). */
function peakNear(acf: Float64Array, lag: number, tolerance: number): number {
  let best = Number.NEGATIVE_INFINITY;
  const lo = Math.max(1, Math.floor(lag - tolerance));
  const hi = Math.min(acf.length - 1, Math.ceil(lag + tolerance));
  for (let i = lo; i <= hi; i++) if (acf[i]! > best) best = acf[i]!;
  return best;
}

/**
 * The comb cannot tell a beat from its multiples (a click track at 180 BPM scores the same at 90) nor,
 * with the prior, always from a strong subdivision. Among the related levels T, T/2, 2T, 2T/3, 3T/2, T/3, 3T
 * in range, a level is a candidate beat when the envelope repeats at its own period (prior-weighted) at
 * least LEVEL_RATIO as strongly as at the best level; the fastest such level is the beat (slower ones are
 * half-bars/bars of it, whose extra strength comes from accents). The strongest of the other candidates
 * is the alternative.
 */
function chooseMetricalLevel(acf: Float64Array, period: number, frameRate: number): { period: number; alternative: number | null } {
  const ratios = [1, 0.5, 2, 2 / 3, 1.5, 1 / 3, 3];
  const minPeriod = (60 * frameRate) / MAX_BPM;
  const maxPeriod = (60 * frameRate) / MIN_BPM;
  const levels: { period: number; strength: number }[] = [];
  for (const ratio of ratios) {
    const p = period * ratio;
    if (p < minPeriod * 0.98 || p > maxPeriod * 1.02 || p + 2 >= acf.length) continue;
    const strength = 0.5 * (peakNear(acf, p, Math.max(1, 0.02 * p)) + levelComb(acf, p));
    levels.push({ period: p, strength: strength * tempoPrior((60 * frameRate) / p, LEVEL_PRIOR_CENTRE_BPM, LEVEL_PRIOR_OCTAVES) });
  }
  const strongest = Math.max(...levels.map((level) => level.strength));
  if (!(strongest > 0)) return { period, alternative: null };
  const candidates = levels.filter((level) => level.strength >= LEVEL_RATIO * strongest);
  let chosen = period;
  for (const level of candidates) if (level.period < chosen) chosen = level.period;
  let alternative: { period: number; strength: number } | null = null;
  for (const level of candidates) {
    if (Math.abs(level.period / chosen - 1) < 0.02) continue;
    if (alternative === null || level.strength > alternative.strength) alternative = level;
  }
  return { period: chosen, alternative: alternative?.period ?? null };
}

/** Mean of the autocorrelation peaks at the first COMB_MULTIPLES multiples of a period (those in range). */
function levelComb(acf: Float64Array, period: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 1; k <= COMB_MULTIPLES; k++) {
    const lag = k * period;
    if (lag + 2 >= acf.length) break;
    sum += peakNear(acf, lag, Math.max(1, 0.02 * lag));
    count++;
  }
  return count === 0 ? Number.NEGATIVE_INFINITY : sum / count;
}

/** Local maximum of acf near `lag`, interpolated with a parabola; null if none is found. */
function interpolatedPeak(acf: Float64Array, lag: number, tolerance: number): number | null {
  const lo = Math.max(1, Math.floor(lag - tolerance));
  const hi = Math.min(acf.length - 2, Math.ceil(lag + tolerance));
  let best = -1;
  for (let i = lo; i <= hi; i++) {
    if (acf[i]! >= acf[i - 1]! && acf[i]! >= acf[i + 1]! && (best < 0 || acf[i]! > acf[best]!)) best = i;
  }
  if (best < 0) return null;
  const a = acf[best - 1]!;
  const b = acf[best]!;
  const c = acf[best + 1]!;
  const denom = a - 2 * b + c;
  const offset = denom < 0 ? (0.5 * (a - c)) / denom : 0;
  return best + clamp(offset, -0.5, 0.5);
}

/**
 * Least-squares period through the interpolated peaks at k·T: a peak found at lag 8T pins the period
 * eight times more precisely than the one at T.
 */
function refinePeriod(acf: Float64Array, period: number): number {
  let estimate = period;
  let num = 0;
  let den = 0;
  for (let k = 1; (k + 0.5) * estimate < acf.length - 2; k++) {
    // The window grows with k for the first multiples only: by then the estimate is precise, and a wider
    // window would reach the neighbouring (e.g. swung off-beat) peaks at k·T ± T/3.
    const peak = interpolatedPeak(acf, k * estimate, Math.max(1.5, Math.min(0.03 * k, 0.15) * estimate));
    if (peak === null) continue;
    num += k * peak;
    den += k * k;
    estimate = num / den; // track the running estimate so later multiples stay centred
  }
  return den > 0 ? estimate : period;
}

/**
 * Mean normalised autocorrelation at the first beat multiples, mapped to [0, 1]: noise and silence give
 * ≈0, a metronome ≈1; real mixes typically land in between.
 */
function confidenceOf(acf: Float64Array, period: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 1; k <= COMB_MULTIPLES; k++) {
    const lag = k * period;
    if (lag + 2 >= acf.length) break;
    sum += peakNear(acf, lag, 1);
    count++;
  }
  if (count === 0) return 0;
  return clamp((sum / count - 0.05) / 0.9, 0, 1);
}

function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value;
}
