// Streaming loudness meter after ITU-R BS.1770-4 / EBU R 128 (integrated loudness, loudness range
// after EBU Tech 3342), with sample peak and true peak (4x oversampling). Written from the specs.
// No samples are kept: state is a few filter values per channel, and memory grows by two doubles
// per 100 ms of input (the 400 ms block and 3 s short-term energies; ~0.6 MB for an hour).
//
// K-weighting: BS.1770 publishes the two biquads for 48 kHz only. Both stages are bilinear
// transforms (prewarped at the stage's corner frequency) of second-order analog prototypes, so we
// invert the transform on the published 48 kHz coefficients to recover each analog prototype
// (corner frequency, Q and numerator), then transform it again for the actual sample rate. At
// 48 kHz this reproduces the table exactly; at other rates the response matches the analog filter
// the table was designed from.

import { besselI0 } from './kaiser.js';

/** the BS.1770-4 K-weighting coefficients at 48 kHz (Table 1: pre-filter, Table 2: RLB high-pass) */
const SPEC_RATE = 48_000;
const SPEC_PRE_FILTER = { b: [1.53512485958697, -2.69169618940638, 1.19839281085285], a: [-1.69065929318241, 0.73248077421585] } as const;
const SPEC_RLB_FILTER = { b: [1.0, -2.0, 1.0], a: [-1.99004745483398, 0.99007225036621] } as const;

/** loudness of a (channel-weighted) mean square: L = −0.691 + 10·log10(z) */
const LOUDNESS_OFFSET = -0.691;
const ABSOLUTE_GATE_LUFS = -70;
const RELATIVE_GATE_LU = -10;
/** EBU Tech 3342: short-term (3 s) loudness, relative gate −20 LU, 10th to 95th percentile */
const LRA_RELATIVE_GATE_LU = -20;
const LRA_LOW_PERCENTILE = 0.1;
const LRA_HIGH_PERCENTILE = 0.95;

/** gating blocks are 400 ms long and start every 100 ms (75 % overlap): 4 steps per block */
const STEPS_PER_SECOND = 10;
const STEPS_PER_BLOCK = 4;
const STEPS_PER_SHORT_TERM = 30;

/** 1 / 32768, full scale of 16-bit samples: a power of two, so v · INT16_SCALE is exactly v / 32768 */
const INT16_SCALE = 1 / 32768;

/** ReplayGain 2.0 reference level: a track is played back at −18 LUFS */
const REPLAYGAIN_REFERENCE_LUFS = -18;

export interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

/**
 * A second-order analog section in frequency normalised to its corner ω0:
 * H(s) = (n2·s² + n1·s + n0) / (s² + s/q + 1). A high shelf has n0 = 1 (unity at DC) and n2 = its
 * high-frequency gain; a high-pass has n0 = n1 = 0.
 */
export interface AnalogSection {
  f0: number;
  q: number;
  n0: number;
  n1: number;
  n2: number;
}

/**
 * Bilinear transform prewarped at f0: s = (1/K)·(1 − z⁻¹)/(1 + z⁻¹), K = tan(π·f0/fs). Multiplying
 * through by K²(1 + z⁻¹)² gives the raw (unnormalised) numerator and denominator:
 *   den = [1 + K/q + K², 2(K² − 1), 1 − K/q + K²]
 *   num = [n2 + n1·K + n0·K², 2(n0·K² − n2), n2 − n1·K + n0·K²]
 */
export function bilinear(section: AnalogSection, sampleRate: number): Biquad {
  const k = Math.tan((Math.PI * section.f0) / sampleRate);
  const kq = k / section.q;
  const k2 = k * k;
  const a0 = 1 + kq + k2;
  return {
    b0: (section.n2 + section.n1 * k + section.n0 * k2) / a0,
    b1: (2 * (section.n0 * k2 - section.n2)) / a0,
    b2: (section.n2 - section.n1 * k + section.n0 * k2) / a0,
    a1: (2 * (k2 - 1)) / a0,
    a2: (1 - kq + k2) / a0,
  };
}

/**
 * The inverse of `bilinear`: from a biquad normalised to a0 = 1, recover the analog section. From the
 * raw denominator: d0 − d1 + d2 = 4 and d0 + d1 + d2 = 4K², d0 − d2 = 2K/q; from the raw numerator
 * (B = b·d0): B0 − B1 + B2 = 4·n2, B0 + B1 + B2 = 4·n0·K², B0 − B2 = 2·n1·K.
 */
export function analogPrototype(biquad: Biquad, sampleRate: number): AnalogSection {
  const d0 = 4 / (1 - biquad.a1 + biquad.a2);
  const k = Math.sqrt((1 + biquad.a1 + biquad.a2) / (1 - biquad.a1 + biquad.a2));
  const kq = (d0 * (1 - biquad.a2)) / 2;
  const B0 = biquad.b0 * d0;
  const B1 = biquad.b1 * d0;
  const B2 = biquad.b2 * d0;
  return {
    f0: (sampleRate * Math.atan(k)) / Math.PI,
    q: k / kq,
    n0: (B0 + B1 + B2) / (4 * k * k),
    n1: (B0 - B2) / (2 * k),
    n2: (B0 - B1 + B2) / 4,
  };
}

function specBiquad(spec: { b: readonly number[]; a: readonly number[] }): Biquad {
  return { b0: spec.b[0] ?? 0, b1: spec.b[1] ?? 0, b2: spec.b[2] ?? 0, a1: spec.a[0] ?? 0, a2: spec.a[1] ?? 0 };
}

/** the analog prototypes behind the 48 kHz table (f0 ≈ 1682 Hz, +4 dB shelf; f0 ≈ 38 Hz high-pass) */
export const K_WEIGHTING_PROTOTYPES: readonly [AnalogSection, AnalogSection] = [
  analogPrototype(specBiquad(SPEC_PRE_FILTER), SPEC_RATE),
  analogPrototype(specBiquad(SPEC_RLB_FILTER), SPEC_RATE),
];

/** the two K-weighting stages (pre-filter shelf, then RLB high-pass) for a sample rate */
export function kWeightingCoefficients(sampleRate: number): [Biquad, Biquad] {
  return [bilinear(K_WEIGHTING_PROTOTYPES[0], sampleRate), bilinear(K_WEIGHTING_PROTOTYPES[1], sampleRate)];
}

/**
 * BS.1770-4 channel weights in the usual (WAV / ffmpeg) order: L, R, C = 1.0; LFE is not measured;
 * surround channels 1.41. Mono is a single channel of weight 1 (not "dual mono").
 */
export function defaultChannelWeights(channels: number): number[] {
  if (channels <= 3) return new Array<number>(channels).fill(1);
  if (channels === 5) return [1, 1, 1, 1.41, 1.41]; // L R C Ls Rs
  if (channels === 6) return [1, 1, 1, 0, 1.41, 1.41]; // L R C LFE Ls Rs
  const weights = new Array<number>(channels).fill(1.41);
  weights[0] = weights[1] = weights[2] = 1;
  if (channels > 3) weights[3] = 0; // 7.1 and wider: LFE fourth
  return weights;
}

// ---------------------------------------------------------------------------------------------
// True peak: a polyphase FIR interpolator (4x for rates under 96 kHz, 2x under 192 kHz, as
// BS.1770-4 Annex 2 suggests). The prototype is a Kaiser-windowed sinc cut off at the input's
// Nyquist frequency, with its centre on a multiple of the factor so that phase 0 is the input
// itself (sample peak) and only the in-between phases need computing. Each phase is normalised to
// unity gain at DC.

const TRUE_PEAK_TAPS_PER_PHASE = 24;
const TRUE_PEAK_KAISER_BETA = 7;
/** inputs are checked in runs of this many samples against the running peak (see `truePeakRun`) */
const TRUE_PEAK_RUN = 64;


interface Interpolator {
  factor: number;
  /** phases[r − 1][j]: weight of x[q − j] in the output r/factor of a sample after x[q − taps/2] */
  phases: Float64Array[];
  taps: number;
  /** per phase, Σ|h| over the taps outside the central four */
  tailL1: Float64Array;
  /** the largest Σ|h| of a phase: |output| ≤ maxL1 · max|input in its window| */
  maxL1: number;
  /** the largest Σ|h| over a phase's central four taps, and over its other taps */
  maxCoreL1: number;
  maxTailL1: number;
}

/** the central taps of each phase (j = taps/2 − 2 … taps/2 + 1) hold most of its weight */
const CORE_TAPS = 4;

function makeInterpolator(sampleRate: number): Interpolator {
  const factor = sampleRate < 96_000 ? 4 : sampleRate < 192_000 ? 2 : 1;
  const taps = TRUE_PEAK_TAPS_PER_PHASE;
  const length = factor * taps + 1;
  const centre = (factor * taps) / 2;
  const i0Beta = besselI0(TRUE_PEAK_KAISER_BETA);
  const h = new Float64Array(length);
  for (let n = 0; n < length; n++) {
    const t = (n - centre) / factor;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    const r = (n - centre) / centre;
    h[n] = sinc * (besselI0(TRUE_PEAK_KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta);
  }
  const phases: Float64Array[] = [];
  const l1 = new Float64Array(Math.max(0, factor - 1));
  const coreL1 = new Float64Array(Math.max(0, factor - 1));
  const tailL1 = new Float64Array(Math.max(0, factor - 1));
  const coreStart = taps / 2 - CORE_TAPS / 2;
  for (let r = 1; r < factor; r++) {
    const phase = new Float64Array(taps);
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      phase[j] = h[j * factor + r] ?? 0;
      sum += phase[j] ?? 0;
    }
    let all = 0;
    let tail = 0;
    for (let j = 0; j < taps; j++) {
      const w = (phase[j] ?? 0) / sum;
      phase[j] = w;
      all += Math.abs(w);
      if (j < coreStart || j >= coreStart + CORE_TAPS) tail += Math.abs(w);
    }
    l1[r - 1] = all;
    coreL1[r - 1] = all - tail;
    tailL1[r - 1] = tail;
    phases.push(phase);
  }
  return { factor, phases, taps, tailL1, maxL1: Math.max(1, ...l1), maxCoreL1: Math.max(0, ...coreL1), maxTailL1: Math.max(0, ...tailL1) };
}

/**
 * The two K-weighting biquads (transposed direct form II) with the output substituted into the
 * state updates: for y = b0·v + s1, s1' = b1·v − a1·y + s2 = (b1 − a1·b0)·v + s2 − a1·s1 and
 * s2' = (b2 − a2·b0)·v − a2·s1. Same filter; the state no longer waits for y, which halves the
 * chain of dependent operations per sample (the loop's speed limit).
 */
interface KWeightingKernel {
  p0: number;
  q1: number;
  q2: number;
  pa1: number;
  pa2: number;
  r0: number;
  u1: number;
  u2: number;
  ra1: number;
  ra2: number;
}

function kWeightingKernel(pre: Biquad, rlb: Biquad): KWeightingKernel {
  return {
    p0: pre.b0,
    q1: pre.b1 - pre.a1 * pre.b0,
    q2: pre.b2 - pre.a2 * pre.b0,
    pa1: pre.a1,
    pa2: pre.a2,
    r0: rlb.b0,
    u1: rlb.b1 - rlb.a1 * rlb.b0,
    u2: rlb.b2 - rlb.a2 * rlb.b0,
    ra1: rlb.a1,
    ra2: rlb.a2,
  };
}

function flushDenormal(v: number): number {
  return Math.abs(v) < 1e-30 ? 0 : v;
}

/** bounds are compared with this much slack so that rounding can never skip a new maximum */
const BOUND_SLACK = 1 + 1e-9;

/**
 * The largest |interpolated value| over outputs q ∈ [start, end) of `x` (each using x[q − taps + 1 … q]),
 * or `peak` if none is larger. Work is skipped where a bound shows it cannot beat `peak`, from the
 * cheapest check to the dearest: a whole run of inputs when max|x| · Σ|h| is under it; then an
 * output (all its phases) when the largest of its four central inputs times the central taps' Σ|h|,
 * plus the other taps' Σ|h| times the run's max|x|, is; then a phase when its four central taps'
 * sum plus that tail bound is. The bounds are exact, so the result is the same as computing
 * everything (and does not depend on how the input was chunked).
 */
function truePeakRun(interp: Interpolator, x: Float64Array, start: number, end: number, peak: number): number {
  const { phases, taps, maxL1, tailL1, maxCoreL1, maxTailL1 } = interp;
  const c0 = taps / 2 - CORE_TAPS / 2;
  for (let runStart = start; runStart < end; runStart += TRUE_PEAK_RUN) {
    const runEnd = Math.min(end, runStart + TRUE_PEAK_RUN);
    let runMax = 0;
    for (let i = runStart - taps + 1; i < runEnd; i++) {
      const v = Math.abs(x[i] as number);
      if (v > runMax) runMax = v;
    }
    if (runMax * maxL1 * BOUND_SLACK <= peak) continue;
    // outputs whose central inputs are all under `coreLimit` cannot beat the peak in any phase
    const coreLimit = (peak / BOUND_SLACK - maxTailL1 * runMax) / maxCoreL1;
    for (let q = runStart; q < runEnd; q++) {
      const k = q - c0;
      const a0 = x[k] as number;
      const a1 = x[k - 1] as number;
      const a2 = x[k - 2] as number;
      const a3 = x[k - 3] as number;
      if (
        (a0 < 0 ? -a0 : a0) <= coreLimit &&
        (a1 < 0 ? -a1 : a1) <= coreLimit &&
        (a2 < 0 ? -a2 : a2) <= coreLimit &&
        (a3 < 0 ? -a3 : a3) <= coreLimit
      )
        continue;
      for (let p = 0; p < phases.length; p++) {
        const phase = phases[p] as Float64Array;
        const core = (phase[c0] as number) * a0 + (phase[c0 + 1] as number) * a1 + (phase[c0 + 2] as number) * a2 + (phase[c0 + 3] as number) * a3;
        if (((core < 0 ? -core : core) + (tailL1[p] as number) * runMax) * BOUND_SLACK <= peak) continue;
        let acc = 0;
        for (let j = 0; j < taps; j++) acc += (phase[j] as number) * (x[q - j] as number);
        const v = acc < 0 ? -acc : acc;
        if (v > peak) peak = v;
      }
    }
  }
  return peak;
}

// ---------------------------------------------------------------------------------------------

class GrowableF64 {
  private data = new Float64Array(256);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  values(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

export interface LoudnessResult {
  /** gated integrated loudness (LUFS); null when no block passes the gates (silence, or under 400 ms) */
  integratedLufs: number | null;
  /** largest |sample| over all channels, linear (1.0 = full scale) */
  samplePeak: number;
  /** largest |value| of the 4x-oversampled signal, linear; `dbtp()` gives dBTP */
  truePeak: number;
  /** EBU Tech 3342 loudness range (LU); absent when the input is shorter than one 3 s window */
  loudnessRange?: number;
}

export interface LoudnessMeterOptions {
  /** per-channel weights; default `defaultChannelWeights(channels)` */
  channelWeights?: number[];
  /** skip the true-peak interpolator (true peak is then reported as the sample peak) */
  truePeak?: boolean;
}

export class LoudnessMeter {
  readonly sampleRate: number;
  readonly channels: number;
  private readonly weights: Float64Array;
  private readonly kernel: KWeightingKernel;
  /** per channel: two transposed direct-form II biquads, 2 state values each */
  private readonly state: Float64Array;

  /** frames seen, and where the current 100 ms step ends (step k ends at round(k·fs/10)) */
  private frames = 0;
  private step = 0;
  private stepEnd: number;
  private stepSum = 0;
  /** the last 30 steps' weighted sums of squares and lengths (a ring), for 400 ms and 3 s windows */
  private readonly ringSums = new Float64Array(STEPS_PER_SHORT_TERM);
  private readonly ringFrames = new Float64Array(STEPS_PER_SHORT_TERM);
  private readonly blockEnergies = new GrowableF64();
  private readonly shortTermEnergies = new GrowableF64();

  private samplePeak = 0;
  private readonly interp: Interpolator | null;
  /** per channel: the last taps − 1 inputs of the interpolator */
  private readonly history: Float64Array[];
  /** one run of a channel's samples, after the taps − 1 inputs before it */
  private readonly scratch: Float64Array;
  /** per run of TRUE_PEAK_RUN frames of the current push, per channel: 1 if an input may raise the true peak */
  private runFlags = new Uint8Array(0);
  private truePeak = 0;
  /** a partial frame left over when a pushed chunk is not a whole number of frames */
  private readonly pending: Float32Array;
  private pendingLength = 0;

  constructor(sampleRate: number, channels: number, options: LoudnessMeterOptions = {}) {
    // the pre-filter's prototype corner (~1.7 kHz) must sit well under Nyquist
    if (!(sampleRate >= 8000) || !Number.isFinite(sampleRate)) throw new RangeError(`unsupported sample rate ${sampleRate}`);
    if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`bad channel count ${channels}`);
    this.sampleRate = sampleRate;
    this.channels = channels;
    const weights = options.channelWeights ?? defaultChannelWeights(channels);
    if (weights.length !== channels) throw new RangeError(`${weights.length} channel weights for ${channels} channels`);
    this.weights = Float64Array.from(weights);
    this.kernel = kWeightingKernel(...kWeightingCoefficients(sampleRate));
    this.state = new Float64Array(channels * 4);
    this.stepEnd = Math.round(sampleRate / STEPS_PER_SECOND);
    this.interp = options.truePeak === false ? null : makeInterpolator(sampleRate);
    const historyLength = this.interp ? this.interp.taps - 1 : 0;
    this.history = Array.from({ length: channels }, () => new Float64Array(historyLength));
    this.scratch = new Float64Array(this.interp ? historyLength + TRUE_PEAK_RUN : 0);
    this.pending = new Float32Array(channels);
  }

  /**
   * Feeds interleaved samples (any length; a trailing partial frame waits for the next call): floats,
   * or 16-bit integers (full scale 32768), read as they are, without a converted copy.
   */
  push(interleaved: Float32Array | Int16Array): void {
    const ch = this.channels;
    const scale = interleaved instanceof Int16Array ? INT16_SCALE : 1;
    let input = interleaved;
    if (this.pendingLength > 0) {
      const take = Math.min(ch - this.pendingLength, interleaved.length);
      for (let i = 0; i < take; i++) this.pending[this.pendingLength + i] = (interleaved[i] as number) * scale;
      this.pendingLength += take;
      if (this.pendingLength < ch) return;
      this.pendingLength = 0;
      this.pushFrames(this.pending, 1);
      input = interleaved.subarray(take);
    }
    const whole = input.length - (input.length % ch);
    if (whole > 0) this.pushFrames(input.subarray(0, whole), scale);
    for (let i = whole; i < input.length; i++) this.pending[this.pendingLength++] = (input[i] as number) * scale;
  }

  private pushFrames(x: Float32Array | Int16Array, scale: number): void {
    const ch = this.channels;
    const total = x.length / ch;
    const runs = Math.ceil(total / TRUE_PEAK_RUN);
    if (this.runFlags.length < runs * ch) this.runFlags = new Uint8Array(runs * ch);
    this.runFlags.fill(0, 0, runs * ch);
    // a run needs interpolating only if an input in it (or just before it) exceeds this; it is
    // also under the sample peak, so the K-weighting loop tests one rarely-true condition per input
    const candidate = this.interp ? Math.min(this.samplePeak, this.truePeak / (this.interp.maxL1 * BOUND_SLACK)) : this.samplePeak;
    let done = 0;
    while (done < total) {
      const n = Math.min(total - done, this.stepEnd - this.frames);
      this.stepSum += this.channelSegments(x, done, n, candidate, scale);
      this.frames += n;
      done += n;
      if (this.frames === this.stepEnd) this.closeStep();
    }
    if (this.interp) this.pushTruePeak(x, total, runs, candidate, scale);
  }

  /**
   * K-weights frames [from, from + n) of every channel and returns their weighted sum of squares.
   * Also raises the sample peak, and flags in `runFlags` each run (TRUE_PEAK_RUN frames of this
   * push, per channel) holding an input above `candidate`.
   */
  private channelSegments(x: Float32Array | Int16Array, from: number, n: number, candidate: number, scale: number): number {
    const ch = this.channels;
    const { p0, q1, q2, pa1, pa2, r0, u1, u2, ra1, ra2 } = this.kernel;
    const st = this.state;
    const flags = this.runFlags;
    let peak = this.samplePeak;
    let sum = 0;
    for (let c = 0; c < ch; c++) {
      let s1 = st[c * 4] as number;
      let s2 = st[c * 4 + 1] as number;
      let t1 = st[c * 4 + 2] as number;
      let t2 = st[c * 4 + 3] as number;
      let acc = 0;
      for (let i = from * ch + c, stop = (from + n) * ch; i < stop; i += ch) {
        const v = (x[i] as number) * scale;
        const a = v < 0 ? -v : v;
        if (a > candidate) {
          flags[Math.floor((i - c) / ch / TRUE_PEAK_RUN) * ch + c] = 1;
          if (a > peak) peak = a;
        }
        const y = p0 * v + s1;
        const z = r0 * y + t1;
        const s1Next = q1 * v + s2 - pa1 * s1;
        s2 = q2 * v - pa2 * s1;
        s1 = s1Next;
        const t1Next = u1 * y + t2 - ra1 * t1;
        t2 = u2 * y - ra2 * t1;
        t1 = t1Next;
        acc += z * z;
      }
      // flush denormals once per segment: after digital silence the high-pass state decays towards them
      st[c * 4] = flushDenormal(s1);
      st[c * 4 + 1] = flushDenormal(s2);
      st[c * 4 + 2] = flushDenormal(t1);
      st[c * 4 + 3] = flushDenormal(t2);
      sum += (this.weights[c] as number) * acc;
    }
    this.samplePeak = peak;
    return sum;
  }

  /** a 100 ms step is complete: record the 400 ms block and 3 s window that end with it */
  private closeStep(): void {
    const stepStart = Math.round((this.step * this.sampleRate) / STEPS_PER_SECOND);
    const slot = this.step % STEPS_PER_SHORT_TERM;
    this.ringSums[slot] = this.stepSum;
    this.ringFrames[slot] = this.stepEnd - stepStart;
    this.step++;
    this.stepSum = 0;
    this.stepEnd = Math.round(((this.step + 1) * this.sampleRate) / STEPS_PER_SECOND);
    if (this.step >= STEPS_PER_BLOCK) this.blockEnergies.push(this.windowEnergy(STEPS_PER_BLOCK));
    if (this.step >= STEPS_PER_SHORT_TERM) this.shortTermEnergies.push(this.windowEnergy(STEPS_PER_SHORT_TERM));
  }

  /** the weighted mean square over the last `steps` steps */
  private windowEnergy(steps: number): number {
    let sum = 0;
    let frames = 0;
    for (let k = 1; k <= steps; k++) {
      const slot = (this.step - k) % STEPS_PER_SHORT_TERM;
      sum += this.ringSums[slot] as number;
      frames += this.ringFrames[slot] as number;
    }
    return frames > 0 ? sum / frames : 0;
  }

  /**
   * Only runs flagged during K-weighting, or right after one (the interpolator also reads the
   * taps − 1 inputs before a run), can hold a value above the true peak so far: those are
   * de-interleaved, with the inputs before them, and interpolated by `truePeakRun`.
   */
  private pushTruePeak(x: Float32Array | Int16Array, total: number, runs: number, candidate: number, scale: number): void {
    const interp = this.interp as Interpolator;
    const ch = this.channels;
    const keep = interp.taps - 1;
    const ext = this.scratch;
    let peak = this.truePeak;
    for (let c = 0; c < ch; c++) {
      const history = this.history[c] as Float64Array;
      let flaggedBefore = false;
      for (let i = 0; i < keep; i++) if (Math.abs(history[i] as number) > candidate) flaggedBefore = true;
      for (let run = 0; run < runs; run++) {
        const flagged = this.runFlags[run * ch + c] === 1;
        if (flagged || flaggedBefore) {
          const start = run * TRUE_PEAK_RUN;
          const n = Math.min(TRUE_PEAK_RUN, total - start);
          if (run === 0) ext.set(history);
          else for (let i = 0; i < keep; i++) ext[i] = (x[(start - keep + i) * ch + c] as number) * scale;
          for (let i = 0; i < n; i++) ext[keep + i] = (x[(start + i) * ch + c] as number) * scale;
          peak = truePeakRun(interp, ext, keep, keep + n, peak);
        }
        flaggedBefore = flagged;
      }
      if (total >= keep) for (let i = 0; i < keep; i++) history[i] = (x[(total - keep + i) * ch + c] as number) * scale;
      else {
        history.copyWithin(0, total);
        for (let i = 0; i < total; i++) history[keep - total + i] = (x[i * ch + c] as number) * scale;
      }
    }
    this.truePeak = peak;
  }

  /** the weighted mean square of every complete 400 ms gating block so far (for album loudness) */
  blocks(): Float64Array {
    return this.blockEnergies.values();
  }

  result(): LoudnessResult {
    const integratedLufs = integratedFromBlocks([this.blockEnergies.values()]);
    const out: LoudnessResult = { integratedLufs, samplePeak: this.samplePeak, truePeak: Math.max(this.samplePeak, this.flushedTruePeak()) };
    if (this.shortTermEnergies.length > 0) out.loudnessRange = loudnessRange(this.shortTermEnergies.values());
    return out;
  }

  /** the true peak including the interpolations between the last inputs (as if zeros followed) */
  private flushedTruePeak(): number {
    const interp = this.interp;
    if (!interp) return this.samplePeak;
    const keep = interp.taps - 1;
    const ext = new Float64Array(keep + keep);
    let peak = this.truePeak;
    for (const history of this.history) {
      ext.fill(0);
      ext.set(history);
      peak = truePeakRun(interp, ext, keep, keep + keep, peak);
    }
    return peak;
  }
}

export function energyToLufs(meanSquare: number): number {
  return meanSquare > 0 ? LOUDNESS_OFFSET + 10 * Math.log10(meanSquare) : -Infinity;
}

function lufsToEnergy(lufs: number): number {
  return Math.pow(10, (lufs - LOUDNESS_OFFSET) / 10);
}

/**
 * Gated integrated loudness over the 400 ms blocks of one or more tracks (BS.1770-4 §2.8): blocks
 * under −70 LUFS are dropped, then blocks more than 10 LU under the loudness of the rest. Passing the
 * `blocks()` of every track of an album gives the album's loudness.
 */
export function integratedFromBlocks(blocks: Float64Array[]): number | null {
  const absolute = lufsToEnergy(ABSOLUTE_GATE_LUFS);
  let sum = 0;
  let count = 0;
  for (const list of blocks) {
    for (const e of list) {
      if (e > absolute) {
        sum += e;
        count++;
      }
    }
  }
  if (count === 0) return null;
  const relative = lufsToEnergy(energyToLufs(sum / count) + RELATIVE_GATE_LU);
  const gate = Math.max(absolute, relative);
  sum = 0;
  count = 0;
  for (const list of blocks) {
    for (const e of list) {
      if (e > gate) {
        sum += e;
        count++;
      }
    }
  }
  return count === 0 ? null : energyToLufs(sum / count);
}

/** EBU Tech 3342 loudness range from the short-term (3 s, every 100 ms) mean squares */
export function loudnessRange(shortTerm: Float64Array): number {
  const absolute = lufsToEnergy(ABSOLUTE_GATE_LUFS);
  let sum = 0;
  let count = 0;
  for (const e of shortTerm) {
    if (e > absolute) {
      sum += e;
      count++;
    }
  }
  if (count === 0) return 0;
  const gate = Math.max(absolute, lufsToEnergy(energyToLufs(sum / count) + LRA_RELATIVE_GATE_LU));
  const kept: number[] = [];
  for (const e of shortTerm) if (e > gate) kept.push(energyToLufs(e));
  if (kept.length < 2) return 0;
  kept.sort((a, b) => a - b);
  const at = (p: number): number => kept[Math.round((kept.length - 1) * p)] as number;
  return at(LRA_HIGH_PERCENTILE) - at(LRA_LOW_PERCENTILE);
}

/** linear peak → dBTP (dBFS for a sample peak); −Infinity for 0 */
export function dbtp(linear: number): number {
  return linear > 0 ? 20 * Math.log10(linear) : -Infinity;
}

/** ReplayGain 2.0 track gain in dB: the change that brings the track to −18 LUFS */
export function replayGainTrackGain(lufs: number): number {
  return REPLAYGAIN_REFERENCE_LUFS - lufs;
}
