// From decoded blocks to the two streams of decodeForAnalysis: the loudness stream (the file's
// channels, more than two mixed to stereo) and the mono 22,050 Hz analysis stream.
import { ANALYSIS_RATE, DecodeError, loudnessFormatFor, MonoBuffer, type DecodeRequest } from '../decode.js';
import type { DecodedBlock, Role, StreamDecoder } from './channels.js';
import { Resampler } from './resampler.js';

/** a decoder reporting more errors than this, and more bad frames than good ones, is given up */
const MAX_ERRORS = 64;

// Mixing weights, as ffmpeg's own rematrixing gives them for float output (no scaling down to
// avoid clipping: floats do not clip), so both decoders measure the same: the left channel of a
// stereo mix (the right one mirrors it), and the mono mix (stereo to mono is (L + R)·√½).
const HALF = Math.SQRT1_2;
const TO_LEFT: Record<Role, number> = { L: 1, R: 0, C: HALF, LFE: 0, Ls: HALF, Rs: 0, Cs: 0.5 };
const TO_RIGHT: Record<Role, number> = { L: 0, R: 1, C: HALF, LFE: 0, Ls: 0, Rs: HALF, Cs: 0.5 };
const TO_MONO: Record<Role, number> = { L: HALF, R: HALF, C: 1, LFE: 0, Ls: 0.5, Rs: 0.5, Cs: HALF };

function weights(roles: Role[], table: Record<Role, number>): Float32Array {
  return Float32Array.from(roles, (role) => table[role]);
}

function mixInto(dest: Float32Array, channels: Float32Array[], w: Float32Array, n: number): void {
  dest.fill(0, 0, n);
  for (let c = 0; c < w.length; c++) {
    const k = w[c]!;
    if (k === 0) continue;
    const src = channels[c]!;
    for (let i = 0; i < n; i++) dest[i]! += k * src[i]!;
  }
}

/**
 * Takes the decoder's blocks: sends the loudness stream on as it comes, and keeps the mono
 * 22,050 Hz stream (up to `maxSeconds`) while counting all of it.
 */
export class AnalysisSink {
  readonly mono: MonoBuffer;
  monoSamples = 0;
  firstError: string | null = null;
  private errors = 0;
  private rate = 0;
  private channels = 0;
  private stereoWeights: [Float32Array, Float32Array] | null = null;
  private monoWeights: Float32Array | null = null;
  private loudnessResampler: Resampler | null = null;
  private monoResampler: Resampler | null = null;
  private scratch = new Float32Array(0);
  private dropped = 0;
  private kept = 0;

  constructor(private readonly request: DecodeRequest) {
    this.mono = new MonoBuffer(request.maxSeconds, request.hint.seconds, request.scratch);
  }

  take(block: DecodedBlock, decoder: StreamDecoder): void {
    for (const error of block.errors) {
      this.errors++;
      this.firstError ??= error.message;
    }
    // a stream with more bad frames than good ones (counted as ~1,024 samples each) is refused
    if (this.errors > MAX_ERRORS && this.errors * 1_024 > this.kept) {
      throw new DecodeError(`the ${decoder.name} stream is corrupt: ${this.firstError}`);
    }
    const channels = decoder.channels(block.channelData.length);
    const n = Math.min(block.samplesDecoded, ...block.channelData.slice(0, channels).map((c) => c.length));
    if (channels === 0 || n <= 0 || block.sampleRate <= 0) return;
    if (this.rate === 0) this.start(block.sampleRate, channels, decoder);
    if (block.sampleRate !== this.rate || channels !== this.channels) {
      // a stream that changes format midway (a chained Ogg file, a damaged MP3 frame): the
      // blocks in another format are left out, and the file refused if they are the most of it
      this.dropped += n;
      if (this.dropped > this.kept && this.dropped > this.rate * 10) {
        throw new DecodeError(`the ${decoder.name} stream changes format midway (${this.rate} Hz × ${this.channels} to ${block.sampleRate} Hz × ${channels})`);
      }
      return;
    }
    this.kept += n;
    const data = block.channelData;

    // loudness: mono stays mono, stereo stays stereo, more is mixed to stereo
    let loudness: Float32Array[];
    if (channels <= 2) loudness = data.slice(0, channels).map((c) => (c.length === n ? c : c.subarray(0, n)));
    else {
      const left = new Float32Array(n);
      const right = new Float32Array(n);
      mixInto(left, data, this.stereoWeights![0], n);
      mixInto(right, data, this.stereoWeights![1], n);
      loudness = [left, right];
    }
    if (this.loudnessResampler) this.emitLoudness(this.loudnessResampler.push(loudness, n));
    else this.emitLoudness(loudness.length === 1 ? loudness[0]! : interleave(loudness[0]!, loudness[1]!, n));

    // analysis: mono, 22,050 Hz
    let mono: Float32Array;
    if (channels === 1) mono = data[0]!.subarray(0, n);
    else {
      if (this.scratch.length < n) this.scratch = new Float32Array(n);
      mono = this.scratch.subarray(0, n);
      mixInto(mono, data, this.monoWeights!, n);
    }
    // (MonoBuffer copies what it keeps, so the scratch buffer can be reused)
    this.emitMono(this.monoResampler ? this.monoResampler.push([mono], n) : mono);
  }

  finish(): void {
    if (this.loudnessResampler) this.emitLoudness(this.loudnessResampler.flush());
    if (this.monoResampler) this.emitMono(this.monoResampler.flush());
  }

  private start(rate: number, channels: number, decoder: StreamDecoder): void {
    this.rate = rate;
    this.channels = channels;
    const format = loudnessFormatFor({ sampleRate: rate, channels, seconds: null });
    this.request.onLoudnessFormat(format);
    const roles = decoder.roles(channels);
    if (channels > 2) this.stereoWeights = [weights(roles, TO_LEFT), weights(roles, TO_RIGHT)];
    if (channels > 1) this.monoWeights = weights(roles, TO_MONO);
    if (format.sampleRate !== rate) this.loudnessResampler = new Resampler(rate, format.sampleRate, format.channels);
    if (rate !== ANALYSIS_RATE) this.monoResampler = new Resampler(rate, ANALYSIS_RATE, 1);
  }

  private emitLoudness(chunk: Float32Array): void {
    if (chunk.length > 0) this.request.onLoudness(chunk);
  }

  private emitMono(chunk: Float32Array): void {
    this.monoSamples += chunk.length;
    this.mono.append(chunk);
  }
}

function interleave(left: Float32Array, right: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 2);
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    out[j] = left[i]!;
    out[j + 1] = right[i]!;
  }
  return out;
}

