// A streaming polyphase resampler (Kaiser-windowed sinc low-pass), state kept across blocks.
import { besselI0 } from '../kaiser.js';

/** zero crossings of the sinc on each side of the centre, counted at the lower of the two rates */
const ZERO_CROSSINGS = 24;
/** the pass band ends at this fraction of the lower Nyquist frequency */
const ROLLOFF = 0.9;
/** Kaiser window shape: about 85 dB of stop-band rejection */
const KAISER_BETA = 8.6;
/** at most this many filter phases are tabulated (exact for every usual pair of rates) */
const MAX_PHASES = 1024;

interface FilterBank {
  up: number;
  down: number;
  phases: number;
  /** half the number of taps */
  half: number;
  taps: number;
  table: Float32Array;
}

const banks = new Map<string, FilterBank>();

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}


/**
 * The polyphase table of a Kaiser-windowed sinc low-pass filter for inRate → outRate: the cut-off
 * sits below the lower of the two Nyquist frequencies (anti-aliasing when going down, anti-imaging
 * when going up); each phase is normalised to unit gain at DC.
 */
function filterBank(inRate: number, outRate: number): FilterBank {
  const key = `${inRate}>${outRate}`;
  const cached = banks.get(key);
  if (cached) return cached;
  const g = gcd(inRate, outRate);
  const up = outRate / g;
  const down = inRate / g;
  const phases = Math.min(up, MAX_PHASES);
  const cutoff = 0.5 * Math.min(1, outRate / inRate) * ROLLOFF; // cycles per input sample
  const width = ZERO_CROSSINGS / (2 * cutoff); // half length, in input samples
  const half = Math.ceil(width);
  const taps = 2 * half;
  const table = new Float32Array(phases * taps);
  const norm = besselI0(KAISER_BETA);
  for (let q = 0; q < phases; q++) {
    const frac = q / phases;
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      // tap t multiplies the input sample (t - half + 1) places after the one the output follows
      const tau = frac - (t - half + 1);
      const x = tau / width;
      if (Math.abs(x) >= 1) continue;
      const arg = 2 * cutoff * tau;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const h = 2 * cutoff * sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - x * x)) / norm);
      table[q * taps + t] = h;
      sum += h;
    }
    for (let t = 0; t < taps; t++) table[q * taps + t]! /= sum;
  }
  const bank = { up, down, phases, half, taps, table };
  banks.set(key, bank);
  return bank;
}

/**
 * A streaming polyphase resampler for any pair of integer rates, for one or more channels: the
 * input comes planar in blocks of any size, the output leaves interleaved; the samples a filter
 * still needs are kept across blocks, so the output does not depend on how the input was cut.
 * Output sample n stands at input time n·inRate/outRate (no delay); `flush` ends the stream with
 * ceil(inputs·outRate/inRate) outputs in all.
 */
export class Resampler {
  private readonly bank: FilterBank;
  private buffers: Float32Array[];
  private length: number;
  /** absolute input index of buffers[c][0] (negative at first: the zeros before the signal) */
  private base: number;
  /** input index and phase (in 1/up of an input sample) of the next output */
  private index = 0;
  private phase = 0;
  private received = 0;
  private produced = 0;

  constructor(
    inRate: number,
    outRate: number,
    private readonly channels: number,
  ) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`cannot resample ${inRate} Hz to ${outRate} Hz`);
    }
    this.bank = filterBank(inRate, outRate);
    const history = this.bank.half - 1;
    this.buffers = Array.from({ length: channels }, () => new Float32Array(history + 4096));
    this.length = history;
    this.base = -history;
  }

  /** takes n samples of each channel, returns the interleaved output they complete */
  push(planar: Float32Array[], n: number): Float32Array {
    this.append(planar, n);
    this.received += n;
    return this.produce(Infinity);
  }

  /** ends the stream: the outputs still owed, computed with silence after the last input */
  flush(): Float32Array {
    const zeros = Array.from({ length: this.channels }, () => new Float32Array(this.bank.half + 1));
    this.append(zeros, this.bank.half + 1);
    const total = Math.ceil((this.received * this.bank.up) / this.bank.down);
    return this.produce(total - this.produced);
  }

  private append(planar: Float32Array[], n: number): void {
    const needed = this.length + n;
    if (needed > this.buffers[0]!.length) {
      const size = Math.max(needed, Math.ceil(this.buffers[0]!.length * 1.5));
      this.buffers = this.buffers.map((old) => {
        const grown = new Float32Array(size);
        grown.set(old.subarray(0, this.length));
        return grown;
      });
    }
    for (let c = 0; c < this.channels; c++) this.buffers[c]!.set(planar[c]!.subarray(0, n), this.length);
    this.length += n;
  }

  private produce(limit: number): Float32Array {
    const { up, down, phases, half, taps, table } = this.bank;
    const last = this.base + this.length - 1; // the last input index held
    const step = Math.floor(down / up);
    const stepPhase = down % up;
    // the outputs whose last tap (at index + half) is held: those n with
    // index·up + phase + n·down < (last - half + 1)·up
    const room = (last - half + 1 - this.index) * up - this.phase;
    const available = room > 0 ? Math.ceil(room / down) : 0;
    const count = Math.max(0, Math.min(available, limit));
    const out = new Float32Array(count * this.channels);
    const exact = phases === up;
    let index = this.index;
    let phase = this.phase;
    for (let n = 0; n < count; n++) {
      const row = (exact ? phase : Math.floor((phase * phases) / up)) * taps;
      const start = index - half + 1 - this.base;
      for (let c = 0; c < this.channels; c++) {
        const x = this.buffers[c]!;
        // four running sums: shorter dependency chains, about twice as fast in V8
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let t = 0;
        for (; t + 3 < taps; t += 4) {
          a0 += table[row + t]! * x[start + t]!;
          a1 += table[row + t + 1]! * x[start + t + 1]!;
          a2 += table[row + t + 2]! * x[start + t + 2]!;
          a3 += table[row + t + 3]! * x[start + t + 3]!;
        }
        for (; t < taps; t++) a0 += table[row + t]! * x[start + t]!;
        out[n * this.channels + c] = a0 + a1 + (a2 + a3);
      }
      index += step;
      phase += stepPhase;
      if (phase >= up) {
        phase -= up;
        index++;
      }
    }
    this.index = index;
    this.phase = phase;
    this.produced += count;
    // drop the samples no later output needs
    const drop = Math.min(this.length, index - half + 1 - this.base);
    if (drop > 0) {
      for (const x of this.buffers) x.copyWithin(0, drop, this.length);
      this.length -= drop;
      this.base += drop;
    }
    return out;
  }
}

