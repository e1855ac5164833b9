// Frame-level spectral features of a mono signal (made for 22050 Hz, up to ~10 minutes), summarised
// as mean and variance over the frames, plus two 0–1 descriptors (energy, danceability). Frames are
// 2048 samples (Hann window) side by side: a summary over hundreds of frames is the same with
// overlapping ones, for half the work. A signal shorter than a frame is zero-padded to one frame.
// The beat's regularity and strength come from tempo.ts's onset envelope (finer in time).
import { createFft, type FFT } from './fft.js';
import { analyseRhythm, type Pulse } from './tempo.js';

const FRAME = 2048;
const HOP = 2048;
const BINS = FRAME / 2 + 1;
const MEL_BANDS = 40;
const MEL_MIN_HZ = 20;
const MFCC_COUNT = 13;
const ROLLOFF = 0.85;
/** spectral contrast: 7 bands with edges 0, 200, 400, … 6400 Hz, Nyquist; peak/valley = top/bottom 2 % */
const CONTRAST_FIRST_EDGE_HZ = 200;
const CONTRAST_OCTAVES = 6;
const CONTRAST_QUANTILE = 0.02;
/** floors for logarithms (power of a frame of ±1 samples is up to ~(FRAME/4)²) */
const POWER_FLOOR = 1e-10;
/** a signal whose peak stays under −120 dBFS counts as silence: the summary is all zeros */
const SILENCE_PEAK = 1e-6;
/** energy: the mean frame RMS in dBFS mapped linearly from −60 dBFS (0) to 0 dBFS (1) */
const ENERGY_FLOOR_DB = -60;
/** danceability: the bass region */
const BASS_MAX_HZ = 150;
/** bass share of the spectral power at which the bass factor saturates (typical of dance mixes) */
const BASS_SHARE_FULL = 0.3;
/** onset strength (tempo.ts's `Pulse.onsetStrength`) at which the strength factor saturates */
const ONSET_STRENGTH_FULL = 0.12;

export interface Stat {
  mean: number;
  variance: number;
}

export interface VectorStat {
  mean: number[];
  variance: number[];
}

export interface SpectralSummary {
  /** number of analysis frames */
  frames: number;
  rms: Stat;
  /** zero crossings per sample (a sine of f Hz gives ≈ 2f/sampleRate) */
  zcr: Stat;
  /** Hz, magnitude-weighted mean frequency */
  centroid: Stat;
  /** Hz, frequency under which 85 % of the frame's power lies */
  rolloff: Stat;
  /** geometric over arithmetic mean of the power spectrum: ≈ 0 for a tone, ≈ e^−γ ≈ 0.56 for white noise */
  flatness: Stat;
  /** dB, per band (7): peak minus valley */
  contrast: VectorStat;
  /** 13 coefficients */
  mfcc: VectorStat;
  /** 0–1: mean frame RMS, (dBFS + 60) / 60 clamped (−60 dBFS → 0, a full-scale square wave → 1) */
  energy: number;
  /** 0–1, see `danceability()` */
  danceability: number;
}

/** running mean and variance (Welford) of a vector of values */
class Moments {
  private n = 0;
  private readonly m: Float64Array;
  private readonly s: Float64Array;
  constructor(size: number) {
    this.m = new Float64Array(size);
    this.s = new Float64Array(size);
  }
  add(values: ArrayLike<number>): void {
    this.n++;
    for (let i = 0; i < this.m.length; i++) {
      const x = values[i] as number;
      const mean = this.m[i] as number;
      const delta = x - mean;
      const next = mean + delta / this.n;
      this.m[i] = next;
      this.s[i] = (this.s[i] as number) + delta * (x - next);
    }
  }
  /** population variance */
  vector(): VectorStat {
    return { mean: Array.from(this.m), variance: Array.from(this.s, (s) => (this.n > 0 ? Math.max(0, s / this.n) : 0)) };
  }
  scalar(i: number): Stat {
    const v = this.vector();
    return { mean: v.mean[i] ?? 0, variance: v.variance[i] ?? 0 };
  }
}

function emptySummary(): SpectralSummary {
  const zero = (): Stat => ({ mean: 0, variance: 0 });
  const zeros = (n: number): VectorStat => ({ mean: new Array<number>(n).fill(0), variance: new Array<number>(n).fill(0) });
  return {
    frames: 0,
    rms: zero(),
    zcr: zero(),
    centroid: zero(),
    rolloff: zero(),
    flatness: zero(),
    contrast: zeros(CONTRAST_OCTAVES + 1),
    mfcc: zeros(MFCC_COUNT),
    energy: 0,
    danceability: 0,
  };
}

const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number): number => 700 * (Math.pow(10, mel / 2595) - 1);

/**
 * Everything that depends only on the sample rate, built once per rate: the window, the mel
 * filterbank as flat arrays of its non-zero weights, the DCT matrix, the contrast band edges.
 */
interface Plan {
  fft: FFT;
  window: Float64Array;
  binHz: number;
  /** filter m covers bins melStart[m] … melStart[m] + (melOffset[m + 1] − melOffset[m]) − 1, weights melWeights[melOffset[m] …] */
  melStart: Int32Array;
  melOffset: Int32Array;
  melWeights: Float64Array;
  /** row-major MFCC_COUNT × MEL_BANDS */
  dct: Float64Array;
  cEdges: Int32Array;
  bassBins: number;
}

const plans = new Map<number, Plan>();

function planFor(sampleRate: number): Plan {
  let plan = plans.get(sampleRate);
  if (plan) return plan;
  const binHz = sampleRate / FRAME;
  const filters = melFilterbank(sampleRate);
  const melStart = Int32Array.from(filters, (f) => f.start);
  const melOffset = new Int32Array(MEL_BANDS + 1);
  for (let m = 0; m < MEL_BANDS; m++) melOffset[m + 1] = (melOffset[m] as number) + (filters[m] as MelFilter).weights.length;
  const melWeights = new Float64Array(melOffset[MEL_BANDS] as number);
  filters.forEach((f, m) => melWeights.set(f.weights, melOffset[m] as number));
  const dct = new Float64Array(MFCC_COUNT * MEL_BANDS);
  dctMatrix().forEach((row, k) => dct.set(row, k * MEL_BANDS));
  plan = {
    fft: createFft(FRAME),
    window: Float64Array.from({ length: FRAME }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / FRAME)),
    binHz,
    melStart,
    melOffset,
    melWeights,
    dct,
    cEdges: Int32Array.from(contrastEdges(sampleRate)),
    bassBins: Math.min(BINS, Math.floor(BASS_MAX_HZ / binHz) + 1),
  };
  if (plans.size > 8) plans.clear();
  plans.set(sampleRate, plan);
  return plan;
}

interface MelFilter {
  start: number;
  weights: Float64Array;
}

/** triangular filters, equally spaced on the (HTK) mel scale from 20 Hz to Nyquist, peak 1 */
function melFilterbank(sampleRate: number): MelFilter[] {
  const binHz = sampleRate / FRAME;
  const lo = hzToMel(MEL_MIN_HZ);
  const hi = hzToMel(sampleRate / 2);
  const edges = Array.from({ length: MEL_BANDS + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (MEL_BANDS + 1)));
  const filters: MelFilter[] = [];
  for (let b = 0; b < MEL_BANDS; b++) {
    const left = edges[b] as number;
    const centre = edges[b + 1] as number;
    const right = edges[b + 2] as number;
    const start = Math.max(0, Math.ceil(left / binHz));
    const end = Math.min(BINS - 1, Math.floor(right / binHz));
    const weights = new Float64Array(Math.max(0, end - start + 1));
    for (let k = start; k <= end; k++) {
      const f = k * binHz;
      weights[k - start] = f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
    }
    // a band narrower than a bin still gets its nearest bin rather than nothing
    if (weights.every((w) => w <= 0)) filters.push({ start: Math.min(BINS - 1, Math.round(centre / binHz)), weights: Float64Array.of(1) });
    else filters.push({ start, weights });
  }
  return filters;
}

/** orthonormal DCT-II rows 0 … MFCC_COUNT − 1 over MEL_BANDS inputs */
function dctMatrix(): Float64Array[] {
  return Array.from({ length: MFCC_COUNT }, (_, k) => {
    const scale = Math.sqrt((k === 0 ? 1 : 2) / MEL_BANDS);
    return Float64Array.from({ length: MEL_BANDS }, (_, n) => scale * Math.cos((Math.PI * k * (n + 0.5)) / MEL_BANDS));
  });
}

/** the first bin of each contrast band, and the end (exclusive) of the last */
function contrastEdges(sampleRate: number): number[] {
  const binHz = sampleRate / FRAME;
  const edges = [0];
  for (let o = 0; o < CONTRAST_OCTAVES; o++) {
    const bin = Math.round((CONTRAST_FIRST_EDGE_HZ * 2 ** o) / binHz);
    edges.push(Math.min(BINS - 1, Math.max(bin, (edges[edges.length - 1] as number) + 1)));
  }
  edges.push(BINS);
  return edges;
}

/**
 * Logarithms are taken of products of up to this many factors rather than of each factor (the sum
 * of logs is the log of the product): power + floor lies in [1e−10, ~1e6] for samples within ±1,
 * so a product of 16 stays far inside the double range. A product that leaves [1e−300, 1e300]
 * (samples far outside ±1) is redone one log per factor.
 */
const LOG_GROUP = 16;
const PRODUCT_MIN = 1e-300;
const PRODUCT_MAX = 1e300;

/**
 * Spectral contrast of one band: the mean of its `take` strongest and of its `take` weakest bins,
 * in dB (power[start … end)). The extremes are kept in two small sorted lists (ascending `lo`,
 * descending `hi`), and summed in the order a full sort would give, so the result is the same.
 */
function bandContrast(power: Float64Array, start: number, end: number, lo: Float64Array, hi: Float64Array): number {
  const take = Math.max(1, Math.round(CONTRAST_QUANTILE * (end - start)));
  let nLo = 0;
  let nHi = 0;
  for (let i = start; i < end; i++) {
    const x = power[i] as number;
    if (nLo < take || x < (lo[take - 1] as number)) {
      let j = nLo < take ? nLo++ : take - 1;
      while (j > 0 && (lo[j - 1] as number) > x) {
        lo[j] = lo[j - 1] as number;
        j--;
      }
      lo[j] = x;
    }
    if (nHi < take || x > (hi[take - 1] as number)) {
      let j = nHi < take ? nHi++ : take - 1;
      while (j > 0 && (hi[j - 1] as number) < x) {
        hi[j] = hi[j - 1] as number;
        j--;
      }
      hi[j] = x;
    }
  }
  let valley = 0;
  let top = 0;
  for (let i = 0; i < take; i++) {
    valley += lo[i] as number;
    top += hi[i] as number;
  }
  return 10 * Math.log10((top / take + POWER_FLOOR) / (valley / take + POWER_FLOOR));
}

/**
 * The spectral summary of `signal`; `pulse` is what tempo.ts found of its beat (computed here when
 * not given).
 */
export function spectralFeatures(signal: Float32Array, sampleRate: number, pulse?: Pulse): SpectralSummary {
  if (!(peakOf(signal) > SILENCE_PEAK) || !(sampleRate > 0)) return emptySummary();
  const frames = signal.length <= FRAME ? 1 : 1 + Math.ceil((signal.length - FRAME) / HOP);
  const summary = new FrameSummary(planFor(sampleRate));
  // one call per frame rather than one long loop here: V8 then optimises the frame's work as a
  // function instead of swapping this once-a-track function in and out of on-stack replacement
  // (seen to run whole tracks in the interpreter, with a garbage collection every millisecond)
  for (let f = 0; f < frames; f++) summary.add(signal, f * HOP);
  return summary.result(frames, pulse ?? analyseRhythm(signal, sampleRate).pulse);
}

function peakOf(signal: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < signal.length; i++) {
    const v = Math.abs(signal[i] as number);
    if (v > peak) peak = v;
  }
  return peak;
}

/** the running statistics over frames, and the scratch space of one frame */
class FrameSummary {
  private readonly spectrum = new Float64Array(2 * FRAME);
  private readonly frame = new Float64Array(FRAME);
  private readonly power = new Float64Array(BINS);
  private readonly melLog = new Float64Array(MEL_BANDS);
  private readonly mfcc = new Float64Array(MFCC_COUNT);
  private readonly contrast: Float64Array;
  private readonly extremeLo = new Float64Array(BINS);
  private readonly extremeHi = new Float64Array(BINS);
  private readonly scalars = new Moments(5); // rms, zcr, centroid, rolloff, flatness
  private readonly scalarRow = new Float64Array(5);
  private readonly contrastStats: Moments;
  private readonly mfccStats = new Moments(MFCC_COUNT);
  private bassPower = 0;
  private totalPower = 0;

  constructor(private readonly plan: Plan) {
    this.contrast = new Float64Array(plan.cEdges.length - 1);
    this.contrastStats = new Moments(this.contrast.length);
  }

  /** the frame of FRAME samples at `offset` (zero-padded past the end of the signal) */
  add(signal: Float32Array, offset: number): void {
    const { fft, window, binHz, melStart, melOffset, melWeights, dct, cEdges, bassBins } = this.plan;
    const { spectrum, frame, power, melLog, mfcc, contrast, scalarRow } = this;
    const avail = Math.min(FRAME, signal.length - offset); // ≥ 1: every frame starts inside the signal
    let prev = signal[offset] as number;
    let sumSq = prev * prev;
    let crossings = 0;
    frame[0] = prev * (window[0] as number);
    for (let n = 1; n < avail; n++) {
      const v = signal[offset + n] as number;
      sumSq += v * v;
      if (v >= 0 !== prev >= 0) crossings++;
      prev = v;
      frame[n] = v * (window[n] as number);
    }
    if (avail < FRAME) {
      // zero padding past the end: one crossing if the signal ended below zero
      if (!(prev >= 0)) crossings++;
      frame.fill(0, avail);
    }
    fft.realTransform(spectrum, frame);

    let magSum = 0;
    let weightedBins = 0;
    let powerSum = 0;
    let logPowerSum = 0;
    for (let g = 0; g < BINS; g += LOG_GROUP) {
      const gEnd = Math.min(BINS, g + LOG_GROUP);
      let powerProduct = 1;
      for (let k = g; k < gEnd; k++) {
        const re = spectrum[2 * k] as number;
        const im = spectrum[2 * k + 1] as number;
        const p = re * re + im * im;
        const mag = Math.sqrt(p);
        power[k] = p;
        magSum += mag;
        weightedBins += mag * k;
        powerSum += p;
        powerProduct *= p + POWER_FLOOR;
      }
      if (powerProduct > PRODUCT_MIN && powerProduct < PRODUCT_MAX) logPowerSum += Math.log(powerProduct);
      else for (let k = g; k < gEnd; k++) logPowerSum += Math.log((power[k] as number) + POWER_FLOOR);
    }
    for (let k = 0; k < bassBins; k++) this.bassPower += power[k] as number;
    this.totalPower += powerSum;

    let rolloffHz = 0;
    const threshold = ROLLOFF * powerSum;
    let cumulative = 0;
    for (let k = 0; k < BINS; k++) {
      cumulative += power[k] as number;
      if (cumulative >= threshold) {
        rolloffHz = k * binHz;
        break;
      }
    }
    const arithmetic = powerSum / BINS + POWER_FLOOR;
    const geometric = Math.exp(logPowerSum / BINS);

    scalarRow[0] = Math.sqrt(sumSq / FRAME);
    scalarRow[1] = crossings / (FRAME - 1);
    scalarRow[2] = magSum > 0 ? (weightedBins * binHz) / magSum : 0;
    scalarRow[3] = powerSum > 0 ? rolloffHz : 0;
    scalarRow[4] = powerSum > 0 ? Math.min(1, geometric / arithmetic) : 0;
    this.scalars.add(scalarRow);

    // spectral contrast: in each band, mean of the strongest vs the weakest 2 % of bins, in dB
    for (let b = 0; b < contrast.length; b++) contrast[b] = bandContrast(power, cEdges[b] as number, cEdges[b + 1] as number, this.extremeLo, this.extremeHi);
    this.contrastStats.add(contrast);

    // MFCC: mel band powers → dB → DCT-II
    for (let m = 0; m < MEL_BANDS; m++) {
      const from = melOffset[m] as number;
      const to = melOffset[m + 1] as number;
      const base = (melStart[m] as number) - from;
      let e = 0;
      for (let i = from; i < to; i++) e += (melWeights[i] as number) * (power[base + i] as number);
      melLog[m] = 10 * Math.log10(e + POWER_FLOOR);
    }
    for (let k = 0; k < MFCC_COUNT; k++) {
      const row = k * MEL_BANDS;
      let c = 0;
      for (let m = 0; m < MEL_BANDS; m++) c += (dct[row + m] as number) * (melLog[m] as number);
      mfcc[k] = c;
    }
    this.mfccStats.add(mfcc);
  }

  result(frames: number, pulse: Pulse): SpectralSummary {
    const { scalars } = this;
    const rms = scalars.scalar(0);
    const rmsDb = rms.mean > 0 ? 20 * Math.log10(rms.mean) : -Infinity;
    return {
      frames,
      rms,
      zcr: scalars.scalar(1),
      centroid: scalars.scalar(2),
      rolloff: scalars.scalar(3),
      flatness: scalars.scalar(4),
      contrast: this.contrastStats.vector(),
      mfcc: this.mfccStats.vector(),
      energy: clamp01((rmsDb - ENERGY_FLOOR_DB) / -ENERGY_FLOOR_DB),
      danceability: danceability(pulse, this.totalPower > 0 ? this.bassPower / this.totalPower : 0),
    };
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/**
 * Danceability proxy, 0–1 = regularity × strength × (0.5 + 0.5 × bass). A heuristic, not calibrated
 * against listener ratings; it orders "steady beat with low end" above "no beat".
 * - regularity: how regular the beat is at 90–150 BPM (`Pulse.regularity`: the onset envelope's
 *   autocorrelation one beat later).
 * - strength: `Pulse.onsetStrength` relative to 0.12 and capped at 1. Steady tones stay near 0.01
 *   (their slow fluctuations can still be periodic, which `regularity` alone would reward),
 *   stationary noise near 0.09 (but it has no regularity), drum-driven mixes reach 0.1–0.25.
 * - bass: the share of spectral power under 150 Hz (kick drum and bass line), relative to 0.3 and
 *   capped at 1. A steady pulse without low end (e.g. a ticking hi-hat) scores half.
 */
function danceability(pulse: Pulse, bassShare: number): number {
  const strength = clamp01(pulse.onsetStrength / ONSET_STRENGTH_FULL);
  const bass = clamp01(bassShare / BASS_SHARE_FULL);
  return clamp01(clamp01(pulse.regularity) * strength * (0.5 + 0.5 * bass));
}
