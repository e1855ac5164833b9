// Frame-level spectral features of a mono signal (made for 22050 Hz, up to ~10 minutes), summarised
// as mean and variance over the frames, plus two 0–1 descriptors (energy, danceability). Frames are
// 2048 samples every 1024 (Hann window); a signal shorter than a frame is zero-padded to one frame.
import FFT from 'fft.js';

const FRAME = 2048;
const HOP = 1024;
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
/** danceability: tempo range of the pulse, and the bass region */
const DANCE_MIN_BPM = 90;
const DANCE_MAX_BPM = 150;
const BASS_MAX_HZ = 150;
/** bass share of the spectral power at which the bass factor saturates (typical of dance mixes) */
const BASS_SHARE_FULL = 0.3;
/** relative onset flux at which the strength factor saturates */
const ONSET_STRENGTH_FULL = 0.25;

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

export function spectralFeatures(signal: Float32Array, sampleRate: number): SpectralSummary {
  let peak = 0;
  for (let i = 0; i < signal.length; i++) {
    const v = Math.abs(signal[i] as number);
    if (v > peak) peak = v;
  }
  if (!(peak > SILENCE_PEAK) || !(sampleRate > 0)) return emptySummary();

  const fft = new FFT(FRAME);
  const spectrum = new Float64Array(2 * FRAME);
  const frame = new Float64Array(FRAME);
  const window = Float64Array.from({ length: FRAME }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / FRAME));
  const power = new Float64Array(BINS);
  const logMag = new Float64Array(BINS);
  const prevLogMag = new Float64Array(BINS);
  const binHz = sampleRate / FRAME;
  const filters = melFilterbank(sampleRate);
  const dct = dctMatrix();
  const melLog = new Float64Array(MEL_BANDS);
  const mfcc = new Float64Array(MFCC_COUNT);
  const cEdges = contrastEdges(sampleRate);
  const contrast = new Float64Array(cEdges.length - 1);
  const sorted = new Float64Array(BINS);
  const bassBins = Math.min(BINS, Math.floor(BASS_MAX_HZ / binHz) + 1);

  const frames = signal.length <= FRAME ? 1 : 1 + Math.ceil((signal.length - FRAME) / HOP);
  const scalars = new Moments(5); // rms, zcr, centroid, rolloff, flatness
  const scalarRow = new Float64Array(5);
  const contrastStats = new Moments(contrast.length);
  const mfccStats = new Moments(MFCC_COUNT);
  const onset = new Float64Array(frames);
  let bassPower = 0;
  let fluxTotal = 0;
  let levelTotal = 0;
  let totalPower = 0;

  for (let f = 0; f < frames; f++) {
    const offset = f * HOP;
    let sumSq = 0;
    let crossings = 0;
    let prev = 0;
    for (let n = 0; n < FRAME; n++) {
      const v = signal[offset + n] ?? 0; // past the end: zero padding
      sumSq += v * v;
      if (n > 0 && v >= 0 !== prev >= 0) crossings++;
      prev = v;
      frame[n] = v * (window[n] as number);
    }
    fft.realTransform(spectrum, frame);

    let magSum = 0;
    let weightedHz = 0;
    let powerSum = 0;
    let logPowerSum = 0;
    let flux = 0;
    let levelSum = 0;
    for (let k = 0; k < BINS; k++) {
      const re = spectrum[2 * k] as number;
      const im = spectrum[2 * k + 1] as number;
      const p = re * re + im * im;
      const mag = Math.sqrt(p);
      power[k] = p;
      magSum += mag;
      weightedHz += mag * k * binHz;
      powerSum += p;
      logPowerSum += Math.log(p + POWER_FLOOR);
      // onset strength: half-wave rectified rise of the log-compressed magnitude
      const lm = Math.log1p(100 * mag);
      logMag[k] = lm;
      levelSum += lm;
      if (f > 0 && lm > (prevLogMag[k] as number)) flux += lm - (prevLogMag[k] as number);
      if (k < bassBins) bassPower += p;
    }
    totalPower += powerSum;
    onset[f] = flux;
    if (f > 0) {
      fluxTotal += flux;
      levelTotal += levelSum;
    }
    prevLogMag.set(logMag);

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
    scalarRow[2] = magSum > 0 ? weightedHz / magSum : 0;
    scalarRow[3] = powerSum > 0 ? rolloffHz : 0;
    scalarRow[4] = powerSum > 0 ? Math.min(1, geometric / arithmetic) : 0;
    scalars.add(scalarRow);

    // spectral contrast: in each band, mean of the strongest vs the weakest 2 % of bins, in dB
    for (let b = 0; b < contrast.length; b++) {
      const start = cEdges[b] as number;
      const end = cEdges[b + 1] as number;
      const band = sorted.subarray(0, end - start);
      band.set(power.subarray(start, end));
      band.sort();
      const take = Math.max(1, Math.round(CONTRAST_QUANTILE * band.length));
      let valley = 0;
      let top = 0;
      for (let i = 0; i < take; i++) {
        valley += band[i] as number;
        top += band[band.length - 1 - i] as number;
      }
      contrast[b] = 10 * Math.log10((top / take + POWER_FLOOR) / (valley / take + POWER_FLOOR));
    }
    contrastStats.add(contrast);

    // MFCC: mel band powers → dB → DCT-II
    for (let m = 0; m < MEL_BANDS; m++) {
      const filter = filters[m] as MelFilter;
      let e = 0;
      for (let i = 0; i < filter.weights.length; i++) e += (filter.weights[i] as number) * (power[filter.start + i] as number);
      melLog[m] = 10 * Math.log10(e + POWER_FLOOR);
    }
    for (let k = 0; k < MFCC_COUNT; k++) {
      const row = dct[k] as Float64Array;
      let c = 0;
      for (let m = 0; m < MEL_BANDS; m++) c += (row[m] as number) * (melLog[m] as number);
      mfcc[k] = c;
    }
    mfccStats.add(mfcc);
  }

  const rms = scalars.scalar(0);
  const rmsDb = rms.mean > 0 ? 20 * Math.log10(rms.mean) : -Infinity;
  return {
    frames,
    rms,
    zcr: scalars.scalar(1),
    centroid: scalars.scalar(2),
    rolloff: scalars.scalar(3),
    flatness: scalars.scalar(4),
    contrast: contrastStats.vector(),
    mfcc: mfccStats.vector(),
    energy: clamp01((rmsDb - ENERGY_FLOOR_DB) / -ENERGY_FLOOR_DB),
    danceability: danceability(onset, sampleRate / HOP, levelTotal > 0 ? fluxTotal / levelTotal : 0, totalPower > 0 ? bassPower / totalPower : 0),
  };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/**
 * Danceability proxy, 0–1 = pulse × strength × (0.5 + 0.5 × bass). A heuristic, not calibrated
 * against listener ratings; it orders "steady beat with low end" above "no beat".
 * - pulse: how regular and strong the beat is: the highest normalised autocorrelation (lag 0 = 1) of
 *   the mean-removed onset envelope (spectral flux, one value per hop ≈ 46 ms at 22050 Hz) over
 *   lags of 90–150 BPM, read between integer lags by linear interpolation, floored at 0. A steady
 *   pulse in that range repeats its onset pattern one beat later (→ near 1); rubato, drones and
 *   noise do not (→ near 0).
 * - strength: the onset envelope's total divided by the total log-magnitude level (how much of
 *   the spectrum rises from frame to frame), relative to 0.25 and capped at 1. Steady tones and
 *   stationary noise stay under ~0.1 (their small fluctuations can still be periodic, which
 *   `pulse` alone would reward); a drum pattern reaches ~0.5.
 * - bass: the share of spectral power under 150 Hz (kick drum and bass line), relative to 0.3 and
 *   capped at 1. A steady pulse without low end (e.g. a ticking hi-hat) scores half.
 */
function danceability(onset: Float64Array, envelopeRate: number, relativeFlux: number, bassShare: number): number {
  const n = onset.length;
  const minLag = (60 / DANCE_MAX_BPM) * envelopeRate;
  const maxLag = (60 / DANCE_MIN_BPM) * envelopeRate;
  const lastLag = Math.ceil(maxLag);
  if (n < lastLag * 4) return 0; // under ~4 beats of material: no tempo to speak of
  let mean = 0;
  for (const v of onset) mean += v;
  mean /= n;
  const centred = Float64Array.from(onset, (v) => v - mean);
  const ac = (lag: number): number => {
    let s = 0;
    for (let i = lag; i < n; i++) s += (centred[i] as number) * (centred[i - lag] as number);
    return s / (n - lag); // unbiased, so long lags are not penalised
  };
  const r0 = ac(0);
  if (!(r0 > 0)) return 0;
  const values = new Float64Array(lastLag + 2);
  for (let lag = Math.floor(minLag); lag <= lastLag + 1; lag++) values[lag] = ac(lag) / r0;
  let best = 0;
  // sample the continuous-lag autocorrelation finely so the BPM range is respected at both ends
  for (let lag = minLag; lag <= maxLag; lag += 0.05) {
    const i = Math.floor(lag);
    const t = lag - i;
    const v = (1 - t) * (values[i] as number) + t * (values[i + 1] as number);
    if (v > best) best = v;
  }
  const pulse = clamp01(best);
  const strength = clamp01(relativeFlux / ONSET_STRENGTH_FULL);
  const bass = clamp01(bassShare / BASS_SHARE_FULL);
  return clamp01(pulse * strength * (0.5 + 0.5 * bass));
}
