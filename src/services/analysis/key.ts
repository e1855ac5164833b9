// Musical key detection: a tuning-corrected chromagram from a short-time Fourier transform, and a
// template match of its mean against the 24 rotated major/minor key profiles.
//
// Pipeline (mono float PCM, normally 22,050 Hz):
//  1. only 55–2,000 Hz is used, so the signal is decimated first: by 2 with a [1 4 6 4 1]/16
//     binomial low-pass while the rate is ≥ 15 kHz (≥ 40 dB down where it folds onto that band),
//     then by 2 again with a 27-tap half-band filter: 22,050 Hz is analysed at 5,512.5 Hz, for a
//     quarter of the FFT work; the filters' passband droop is undone per bin;
//  2. Hann-windowed frames of ~0.74 s (4,096 samples at 5,512.5 Hz, 1.35 Hz per bin, enough to
//     separate semitones at 55 Hz) every ~0.37 s; the power of the bins in ~52–2,100 Hz is kept;
//  3. the global tuning deviation (±50 cents) is the magnitude-weighted circular mean of the
//     deviations of the spectral peaks (parabolic interpolation) from the equal-tempered grid
//     (A4 = 440 Hz), and the pitch grid is shifted by it;
//  4. each bin's power goes to its nearest semitone with a cos² weight of its distance, and the
//     semitone energies are log-compressed per frame (a constant-Q-like semitone spectrum, so
//     that every octave counts alike and quiet chord tones still register); they are folded into
//     12 pitch classes, and each frame's chroma is scaled to sum 1 (silent frames are skipped);
//  5. two decisions. Which diatonic collection: the mean chroma (to the power 0.75) is correlated
//     (Pearson) with the major profile on each tonic and the minor profile on its relative minor's
//     tonic, and the pair with the highest sum wins (a piece in C major and one in A minor use the
//     same notes; scoring each key alone let the dominant's notes pull a major piece a fifth up).
//     Then which of the pair: the tonic evidence of the major key against its relative minor's,
//     the bass register's (55–156 Hz) share on each tonic plus the chroma of the major tonic
//     triad's fifth against the minor tonic (the one note their tonic triads do not share). The
//     confidence is the smaller of the two decisions' margins.
import { createFft, type FFT } from './fft.js';

/** pitch-class names used for keys (sharps for C#, F#; flats for Eb, Ab, Bb) */
export const KEY_NAMES = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'] as const;

export type Scale = 'major' | 'minor';

export interface Chroma {
  /** mean over frames of the per-frame normalised chroma, C..B (sums to 1, or all 0 for silence) */
  mean: Float64Array;
  /** variance over frames of the same */
  variance: Float64Array;
}

export interface KeyEstimate {
  key: string;
  scale: Scale;
  /** 0..1: the margin between the best and the second-best key; 0 for silence */
  confidence: number;
  camelot: string;
}

// Key profiles, chosen by measurement on the development part of the accuracy set
// (bench/accuracy.bench.ts; docs/analysis.md) among Krumhansl–Kessler, Temperley (Kostka–Payne),
// Aarden–Essen, Bellman–Budge and Sha'ath, alone and blended in pairs, under the constraint that
// the synthetic progressions of test/unit/analysis-key.test.ts stay 96/96: half and half
// B. Aarden's Essen folksong corpus profiles ("Dynamic melodic expectancy", PhD thesis, Ohio State,
// 2003) and Ö. Sha'ath's profiles tuned on popular music ("Estimation of key in digital music
// recordings", MSc thesis, Birkbeck, 2011; the libKeyFinder defaults), each scaled to sum 1 first.
// Index 0 is the tonic.
const AARDEN_MAJOR = [17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122];
const AARDEN_MINOR = [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623];
const SHAATH_MAJOR = [6.6, 2.0, 3.5, 2.3, 4.6, 4.0, 2.5, 5.2, 2.4, 3.7, 2.3, 3.4];
const SHAATH_MINOR = [6.5, 2.7, 3.5, 5.4, 2.6, 3.5, 2.5, 5.2, 4.0, 2.7, 4.3, 3.2];

function blend(a: readonly number[], b: readonly number[]): Float64Array {
  const sa = a.reduce((s, v) => s + v, 0);
  const sb = b.reduce((s, v) => s + v, 0);
  return Float64Array.from(a, (v, i) => 0.5 * (v / sa) + 0.5 * ((b[i] ?? 0) / sb));
}

const PROFILE_MAJOR = blend(AARDEN_MAJOR, SHAATH_MAJOR);
const PROFILE_MINOR = blend(AARDEN_MINOR, SHAATH_MINOR);
/** the mean chroma is raised to this power before the correlation (fitted with the profiles) */
const CHROMA_EXPONENT = 0.75;
/** a key whose confidence is under this is stored and shown as uncertain */
export const LOW_KEY_CONFIDENCE = 0.05;

const MIN_HZ = 55;
const MAX_HZ = 2000;
/** decimate with the binomial filter while the rate is at least this … */
const DECIMATE_ABOVE = 15_000;
/** … then once more with the half-band filter if the rate is at least this (≥ 5 kHz after it) */
const HALF_BAND_ABOVE = 10_000;
/** frame length in seconds (rounded up to a power of two in samples) */
const FRAME_SECONDS = 0.7;
/** frames whose energy is below this fraction of the loudest frame's are skipped */
const SILENT_FRAME = 1e-4;
/** absolute floor: a mean square below this (about −100 dBFS) is silence */
const SILENCE_POWER = 1e-10;
/** log compression of semitone energies: log(1 + C · e / frame max) */
const LOG_C = 100;
/** the bass register: MIDI 33–51 (A1–Eb3, 55–156 Hz) */
const BASS_MAX_MIDI = 51;
/** a frame's bass counts when its energy is at least this fraction of the frame's strongest semitone */
const BASS_FLOOR = 0.05;
/**
 * Major against relative minor: BASS_WEIGHT × (bass share on the major tonic − on the minor tonic)
 * + TRIAD_WEIGHT × (chroma of the major tonic's fifth − of the minor tonic). Chosen on the
 * development part of the accuracy set (their ratio mattered, 1:10; the scale did not).
 */
const BASS_WEIGHT = 0.5;
const TRIAD_WEIGHT = 5;

/** the cheap first stage: a [1 4 6 4 1]/16 binomial low-pass (response cos⁴(π f / rate)) */
const BINOMIAL = Float64Array.from([1, 4, 6, 4, 1], (v) => v / 16);

/**
 * A half-band low-pass for the last halving: windowed sinc (Hamming, 27 taps, every other one
 * zero), flat to ~0.19 of the rate and ≥ 50 dB down from ~0.31, which is all that can fold back
 * below 2.1 kHz when 11,025 Hz becomes 5,512.5 Hz.
 */
const HALF_BAND = (() => {
  const m = 13;
  const h = new Float64Array(2 * m + 1);
  let sum = 0;
  for (let n = -m; n <= m; n++) {
    const sinc = n === 0 ? 0.5 : Math.sin((Math.PI * n) / 2) / (Math.PI * n);
    const v = sinc * (0.54 + 0.46 * Math.cos((Math.PI * n) / (m + 1)));
    h[n + m] = v;
    sum += v;
  }
  return h.map((v) => v / sum);
})();

/** Halves the rate through the binomial filter (unrolled: it runs on every input sample). */
function decimateBinomial(x: Float32Array): Float32Array {
  const n = x.length;
  const out = new Float32Array(n >> 1);
  const first = 1;
  const last = Math.max(first, Math.min(out.length, ((n - 3) >> 1) + 1));
  for (let j = first; j < last; j++) {
    const i = 2 * j;
    out[j] = (x[i - 2]! + x[i + 2]! + 4 * (x[i - 1]! + x[i + 1]!) + 6 * x[i]!) * 0.0625;
  }
  // the edges, reading zeros outside the signal
  for (let j = 0; j < out.length; j++) {
    if (j === first) j = last;
    if (j >= out.length) break;
    const i = 2 * j;
    let acc = 0;
    for (let k = -2; k <= 2; k++) if (i + k >= 0 && i + k < n) acc += BINOMIAL[2 + k]! * x[i + k]!;
    out[j] = acc;
  }
  return out;
}

/** Halves the rate through the half-band filter (unrolled: centre tap and 7 symmetric pairs). */
function decimateHalfBand(x: Float32Array): Float32Array {
  const h = HALF_BAND;
  const n = x.length;
  const out = new Float32Array(n >> 1);
  const c0 = h[13]!;
  const c1 = h[14]!;
  const c3 = h[16]!;
  const c5 = h[18]!;
  const c7 = h[20]!;
  const c9 = h[22]!;
  const c11 = h[24]!;
  const c13 = h[26]!;
  const first = 7; // 2·7 ≥ 13
  const last = Math.max(first, Math.min(out.length, ((n - 14) >> 1) + 1));
  for (let j = first; j < last; j++) {
    const i = 2 * j;
    out[j] =
      c0 * x[i]! +
      c1 * (x[i - 1]! + x[i + 1]!) +
      c3 * (x[i - 3]! + x[i + 3]!) +
      c5 * (x[i - 5]! + x[i + 5]!) +
      c7 * (x[i - 7]! + x[i + 7]!) +
      c9 * (x[i - 9]! + x[i + 9]!) +
      c11 * (x[i - 11]! + x[i + 11]!) +
      c13 * (x[i - 13]! + x[i + 13]!);
  }
  // the edges, reading zeros outside the signal
  for (let j = 0; j < out.length; j++) {
    if (j === first) j = last;
    if (j >= out.length) break;
    const i = 2 * j;
    let acc = 0;
    for (let k = -13; k <= 13; k++) if (i + k >= 0 && i + k < n) acc += h[13 + k]! * x[i + k]!;
    out[j] = acc;
  }
  return out;
}

/** |H(f)|² of a symmetric FIR at frequency f for sampling rate `rate`. */
function powerResponse(h: Float64Array, f: number, rate: number): number {
  const half = (h.length - 1) >> 1;
  let re = 0;
  for (let k = 0; k < h.length; k++) re += h[k]! * Math.cos((2 * Math.PI * f * (k - half)) / rate);
  return re * re;
}

interface Spectra {
  /** power of bins lo..hi-1, frame after frame */
  power: Float32Array;
  frames: number;
  lo: number;
  hi: number;
  binHz: number;
  /** FFT size */
  size: number;
  /** total retained power of each frame */
  frameEnergy: Float64Array;
}

function stft(signal: Float32Array, sampleRate: number): Spectra {
  let x = signal;
  let rate = sampleRate;
  // the filters applied and the rates they ran at, to undo their passband droop later
  const stages: { h: Float64Array; rate: number }[] = [];
  while (rate >= DECIMATE_ABOVE) {
    x = decimateBinomial(x);
    stages.push({ h: BINOMIAL, rate });
    rate /= 2;
  }
  if (rate >= HALF_BAND_ABOVE) {
    x = decimateHalfBand(x);
    stages.push({ h: HALF_BAND, rate });
    rate /= 2;
  }
  let size = 1024;
  while (size < FRAME_SECONDS * rate) size *= 2;
  const hop = size >> 1;
  const binHz = rate / size;
  const lo = Math.max(1, Math.floor((MIN_HZ * 2 ** (-1 / 24)) / binHz));
  const hi = Math.min(size >> 1, Math.ceil((MAX_HZ * 2 ** (1 / 24)) / binHz) + 1);
  const width = hi - lo;
  const frames = x.length <= size ? 1 : 1 + Math.ceil((x.length - size) / hop);

  const window = new Float64Array(size);
  for (let i = 0; i < size; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size);
  // undo the decimation filter's gentle passband droop, cos⁴(π f / rate) per stage
  const gain = new Float64Array(width);
  for (let k = 0; k < width; k++) {
    const f = (lo + k) * binHz;
    let g = 1;
    for (const stage of stages) g /= Math.max(1e-3, powerResponse(stage.h, f, stage.rate));
    gain[k] = g;
  }

  const fft = createFft(size);
  const frame = new Float64Array(size);
  const spectrum = new Float64Array(2 * size);
  const power = new Float32Array(frames * width);
  const frameEnergy = new Float64Array(frames);
  const scratch = { fft, window, frame, spectrum, gain, lo };
  // one call per frame (see features.ts: V8 optimises a function called often, where a long loop
  // in a once-a-track function keeps dropping back to the interpreter)
  for (let t = 0; t < frames; t++) frameEnergy[t] = framePower(x, t * hop, scratch, power, t * width);
  return { power, frames, lo, hi, binHz, size, frameEnergy };
}

interface FrameScratch {
  fft: FFT;
  window: Float64Array;
  frame: Float64Array;
  spectrum: Float64Array;
  /** per kept bin, the decimation filters' droop undone */
  gain: Float64Array;
  lo: number;
}

/** the power of bins lo … lo + gain.length − 1 of the frame at `start`, into power[row …]; returns their sum */
function framePower(x: Float32Array, start: number, s: FrameScratch, power: Float32Array, row: number): number {
  const { fft, window, frame, spectrum, gain, lo } = s;
  const end = Math.min(x.length, start + frame.length);
  let i = 0;
  for (let j = start; j < end; j++, i++) frame[i] = x[j]! * window[i]!;
  frame.fill(0, i);
  fft.realTransform(spectrum, frame);
  let e = 0;
  for (let k = 0; k < gain.length; k++) {
    const re = spectrum[2 * (lo + k)]!;
    const im = spectrum[2 * (lo + k) + 1]!;
    const p = (re * re + im * im) * gain[k]!;
    power[row + k] = p;
    e += p;
  }
  return e;
}

/** Frames loud enough to analyse: above an absolute floor and SILENT_FRAME of the loudest. */
function activeFrames(spec: Spectra): boolean[] {
  let max = 0;
  for (const e of spec.frameEnergy) if (e > max) max = e;
  // by Parseval, a Hann-windowed frame of mean square σ² has ≈ 3N²σ²/16 of power in a half spectrum
  const floor = Math.max(max * SILENT_FRAME, (SILENCE_POWER * 3 * spec.size * spec.size) / 16);
  return Array.from(spec.frameEnergy, (e) => e > floor && e > 0);
}

/** Global tuning deviation in semitones (−0.5..0.5) from the spectral peaks of the active frames. */
function estimateTuning(spec: Spectra, active: boolean[]): number {
  const { power, frames, lo, hi, binHz } = spec;
  const width = hi - lo;
  const sum = { sx: 0, sy: 0 };
  for (let t = 0; t < frames; t++) if (active[t]) addTuningEvidence(power, t * width, width, lo, binHz, sum);
  if (sum.sx === 0 && sum.sy === 0) return 0;
  return Math.atan2(sum.sy, sum.sx) / (2 * Math.PI);
}

/** one frame's spectral peaks as unit vectors at their deviation from the semitone grid, weighted by √power */
function addTuningEvidence(power: Float32Array, row: number, width: number, lo: number, binHz: number, sum: { sx: number; sy: number }): void {
  let sx = 0;
  let sy = 0;
  let max = 0;
  for (let k = 0; k < width; k++) if (power[row + k]! > max) max = power[row + k]!;
  const floor = max * 1e-3;
  for (let k = 1; k < width - 1; k++) {
    const p = power[row + k]!;
    if (p <= floor || p < power[row + k - 1]! || p <= power[row + k + 1]!) continue;
    // parabolic interpolation on log power (Hann main lobe ≈ Gaussian)
    const a = Math.log(power[row + k - 1]! + 1e-30);
    const b = Math.log(p);
    const c = Math.log(power[row + k + 1]! + 1e-30);
    const den = a - 2 * b + c;
    const delta = den < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den)) : 0;
    const f = (lo + k + delta) * binHz;
    if (f < MIN_HZ * 1.5) continue; // too few bins per semitone down there to place a peak well
    const pitch = 12 * Math.log2(f / 440);
    const angle = 2 * Math.PI * (pitch - Math.round(pitch));
    const w = Math.sqrt(p);
    sx += w * Math.cos(angle);
    sy += w * Math.sin(angle);
  }
  sum.sx += sx;
  sum.sy += sy;
}

interface Analysis extends Chroma {
  /** mean over frames of the pitch-class distribution of the bass register (sums to 1, or all 0) */
  bass: Float64Array;
}

function empty(): Analysis {
  return { mean: new Float64Array(12), variance: new Float64Array(12), bass: new Float64Array(12) };
}

/** the tables of `analyse` and what it sums over frames */
interface ChromaSums {
  /** per bin: its semitone (−1: none) and cos² weight */
  binSemi: Int32Array;
  binWeight: Float64Array;
  /** per semitone: its pitch class */
  semiPc: Int32Array;
  /** semitones of the bass register (the lowest ones) */
  bassSemis: number;
  energy: Float64Array;
  chroma: Float64Array;
  bassFrame: Float64Array;
  sum: Float64Array;
  sumSq: Float64Array;
  bass: Float64Array;
  count: number;
  bassCount: number;
}

/** adds one frame's normalised chroma (and its bass register's pitch classes) to the sums */
function addChromaFrame(power: Float32Array, row: number, acc: ChromaSums): void {
  const { binSemi, binWeight, semiPc, bassSemis, energy, chroma, bassFrame, sum, sumSq, bass } = acc;
  const semis = energy.length;
  energy.fill(0);
  for (let k = 0; k < binSemi.length; k++) {
    const s = binSemi[k]!;
    if (s >= 0) energy[s] = energy[s]! + binWeight[k]! * power[row + k]!;
  }
  let max = 0;
  for (let s = 0; s < semis; s++) if (energy[s]! > max) max = energy[s]!;
  if (max <= 0) return;
  chroma.fill(0);
  const scale = LOG_C / max;
  for (let s = 0; s < semis; s++) {
    const pc = semiPc[s]!;
    chroma[pc] = chroma[pc]! + Math.log1p(scale * energy[s]!);
  }
  let total = 0;
  for (let c = 0; c < 12; c++) total += chroma[c]!;
  if (total <= 0) return;
  for (let c = 0; c < 12; c++) {
    const v = chroma[c]! / total;
    sum[c] = sum[c]! + v;
    sumSq[c] = sumSq[c]! + v * v;
  }
  acc.count++;
  // the bass register: its own pitch-class distribution (linear energy, so the bass note stands
  // out), for frames where the bass is not negligible
  bassFrame.fill(0);
  let bassTotal = 0;
  for (let s = 0; s < bassSemis; s++) {
    const pc = semiPc[s]!;
    bassFrame[pc] = bassFrame[pc]! + energy[s]!;
    bassTotal += energy[s]!;
  }
  if (bassTotal > BASS_FLOOR * max) {
    for (let c = 0; c < 12; c++) bass[c] = bass[c]! + bassFrame[c]! / bassTotal;
    acc.bassCount++;
  }
}

/** 12-bin chromagram (C..B): mean and variance over frames of the per-frame normalised chroma. */
export function chromagram(signal: Float32Array, sampleRate: number): Chroma {
  const { mean, variance } = analyse(signal, sampleRate);
  return { mean, variance };
}

function analyse(signal: Float32Array, sampleRate: number): Analysis {
  if (!(sampleRate > 0) || signal.length === 0) return empty();
  const spec = stft(signal, sampleRate);
  const active = activeFrames(spec);
  if (!active.some(Boolean)) return empty();
  const tuning = estimateTuning(spec, active);

  const { power, frames, lo, hi, binHz } = spec;
  const width = hi - lo;
  // bin → semitone (MIDI number, relative to the lowest used) and its cos² weight
  const midiLo = Math.round(69 + 12 * Math.log2(MIN_HZ / 440));
  const midiHi = Math.round(69 + 12 * Math.log2(MAX_HZ / 440));
  const semis = midiHi - midiLo + 1;
  const binSemi = new Int32Array(width).fill(-1);
  const binWeight = new Float64Array(width);
  for (let k = 0; k < width; k++) {
    const f = (lo + k) * binHz;
    const pitch = 69 + 12 * Math.log2(f / 440) - tuning;
    const m = Math.round(pitch);
    if (m < midiLo || m > midiHi) continue;
    binSemi[k] = m - midiLo;
    binWeight[k] = Math.cos(Math.PI * (pitch - m)) ** 2;
  }
  const semiPc = Int32Array.from({ length: semis }, (_, s) => (((midiLo + s) % 12) + 12) % 12);

  const acc: ChromaSums = {
    binSemi,
    binWeight,
    semiPc,
    bassSemis: BASS_MAX_MIDI - midiLo + 1,
    energy: new Float64Array(semis),
    chroma: new Float64Array(12),
    bassFrame: new Float64Array(12),
    sum: new Float64Array(12),
    sumSq: new Float64Array(12),
    bass: new Float64Array(12),
    count: 0,
    bassCount: 0,
  };
  // one call per frame, as in stft()
  for (let t = 0; t < frames; t++) if (active[t]) addChromaFrame(power, t * width, acc);
  const { sum, sumSq, bass, count, bassCount } = acc;
  if (count === 0) return empty();
  const mean = new Float64Array(12);
  const variance = new Float64Array(12);
  for (let c = 0; c < 12; c++) {
    const m = sum[c]! / count;
    mean[c] = m;
    variance[c] = Math.max(0, sumSq[c]! / count - m * m);
  }
  if (bassCount > 0) for (let c = 0; c < 12; c++) bass[c] = bass[c]! / bassCount;
  return { mean, variance, bass };
}

function pearson(x: Float64Array, profile: Float64Array, rotation: number): number {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < 12; i++) {
    mx += x[i]!;
    my += profile[i]!;
  }
  mx /= 12;
  my /= 12;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < 12; i++) {
    const dx = x[(i + rotation) % 12]! - mx;
    const dy = profile[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

/** Correlations of a chroma vector with the 24 keys: index tonic (0 = C) for major, 12 + tonic for minor. */
function keyCorrelations(chroma: Float64Array): Float64Array {
  const out = new Float64Array(24);
  for (let tonic = 0; tonic < 12; tonic++) {
    out[tonic] = pearson(chroma, PROFILE_MAJOR, tonic);
    out[12 + tonic] = pearson(chroma, PROFILE_MINOR, tonic);
  }
  return out;
}

/** Estimates the key of mono PCM; silence (or no tonal content) gives confidence 0. */
export function estimateKey(signal: Float32Array, sampleRate: number): KeyEstimate {
  const { mean, bass } = analyse(signal, sampleRate);
  return keyFrom(mean, bass);
}

/** Key and chromagram from one spectrum: what the analysis task needs, for the cost of one. */
export function keyAndChroma(signal: Float32Array, sampleRate: number): { key: KeyEstimate; chroma: Chroma } {
  const { mean, variance, bass } = analyse(signal, sampleRate);
  return { key: keyFrom(mean, bass), chroma: { mean, variance } };
}

/** the relative minor's tonic of a major tonic */
const relativeMinor = (major: number): number => (major + 9) % 12;

function keyFrom(mean: Float64Array, bass: Float64Array): KeyEstimate {
  const r = keyCorrelations(mean.map((v) => v ** CHROMA_EXPONENT));
  // the diatonic collection: a major key and its relative minor, scored together
  const pair = Float64Array.from({ length: 12 }, (_, major) => r[major]! + r[12 + relativeMinor(major)]!);
  let major = 0;
  for (let t = 1; t < 12; t++) if (pair[t]! > pair[major]!) major = t;
  let second = -Infinity;
  for (let t = 0; t < 12; t++) if (t !== major && pair[t]! > second) second = pair[t]!;
  // which of the two is home: the bass on its tonic, and the note their tonic triads do not share
  const minor = relativeMinor(major);
  const evidence = BASS_WEIGHT * ((bass[major] ?? 0) - (bass[minor] ?? 0)) + TRIAD_WEIGHT * ((mean[(major + 7) % 12] ?? 0) - (mean[minor] ?? 0));
  const scale: Scale = evidence >= 0 ? 'major' : 'minor';
  const key = KEY_NAMES[scale === 'major' ? major : minor]!;
  // the collection's margin as a share of the room the runner-up left (a pair scores 2 at most),
  // and the mode's evidence (about 0.35 typical, 1 or more when clear); silence scores 0
  const tonal = mean.some((v) => v > 0);
  const collection = (pair[major]! - second) / Math.max(1e-9, 2 - second);
  const confidence = tonal && pair[major]! > 0 ? Math.max(0, Math.min(1, collection, Math.abs(evidence))) : 0;
  return { key, scale, confidence, camelot: camelot(key, scale) };
}

const PITCH_CLASS: Record<string, number> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };

/** Pitch class (0 = C) of a key name such as "F#", "Bb", "Db" or "Cb"; undefined if not one. */
export function pitchClass(name: string): number | undefined {
  const m = /^([A-Ga-g])([#♯b♭]?)$/.exec(name.trim());
  if (!m) return undefined;
  const base = PITCH_CLASS[m[1]!.toUpperCase()]!;
  const accidental = m[2] === '#' || m[2] === '♯' ? 1 : m[2] === 'b' || m[2] === '♭' ? -1 : 0;
  return (base + accidental + 12) % 12;
}

/**
 * Camelot wheel code: major keys are "nB", minor keys "nA", numbered round the circle of fifths
 * with C major = 8B and A minor (its relative) = 8A. Throws a RangeError for an unknown key name.
 */
export function camelot(key: string, scale: Scale): string {
  const pc = pitchClass(key);
  if (pc === undefined) throw new RangeError(`not a key name: ${key}`);
  // for a minor key, number it as its relative major (a minor third up)
  const major = scale === 'minor' ? (pc + 3) % 12 : pc;
  // a fifth up (7 semitones) is one step round the wheel; C (0) is 8
  const n = ((7 * major) % 12 + 7) % 12 + 1;
  return `${n}${scale === 'minor' ? 'A' : 'B'}`;
}
