// Decoding for analysis: one Debian ffmpeg process per track (started by ffmpeg_launcher.ts),
// decoding once and writing two streams: the file's own channels (mono stays mono, more than two
// are mixed to stereo) at the file's own rate (capped at 48 kHz: the meter works at any rate, and
// resampling would only cost) for loudness, and a mono 22,050 Hz stream for tempo, key and spectral
// features: only the excerpt's windows when the caller names them (the rest is never mixed or
// resampled), else the whole stream. The mono stream arrives as 32-bit float and is kept only up to
// `maxSeconds` (bounded memory); the loudness stream is never kept at all, and comes as 16-bit
// integers when the file's own samples are 16-bit (see `loudnessFormatFor`), else as 32-bit float.
// Without ffmpeg, the pure-WASM decoders of decode_wasm.ts take over for the formats they know (they
// keep the whole mono stream, and the caller cuts the excerpt).
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { launchFfmpeg } from './ffmpeg_launcher.js';

export const ANALYSIS_RATE = 22_050;
export const LOUDNESS_RATE = 48_000;

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** what 'auto' means in this thread, probed on the first decode that asks */
let autoDecoder: Promise<DecoderName> | undefined;

/**
 * 'ffmpeg' when Debian's ffmpeg is on PATH, else 'wasm'; found without blocking. The analysis pool
 * asks once and sends its threads a named decoder, so no thread spends its start-up probing again.
 */
export function probeDecoder(): Promise<DecoderName> {
  return new Promise((resolve) => {
    const probe = spawn('ffmpeg', ['-version'], { stdio: 'ignore' });
    probe.once('error', () => resolve('wasm'));
    probe.once('close', (code) => resolve(code === 0 ? 'ffmpeg' : 'wasm'));
  });
}

export interface LoudnessFormat {
  sampleRate: number;
  channels: 1 | 2;
  /**
   * 's16' when the file's samples are 16-bit (or fewer) and reach the meter unchanged (no mixing,
   * no resampling): ffmpeg then writes them as they are (half the bytes of float, no conversion)
   * and the meter reads them as x / 32768, the very floats ffmpeg's conversion gives. Else 'f32'.
   */
  sampleFormat: 's16' | 'f32';
}

/** a stretch of the mono stream, in samples at ANALYSIS_RATE */
export interface ExcerptWindow {
  start: number;
  length: number;
}

export interface DecodeRequest {
  file: string;
  /** what the tags say of the file (its rate, channel count and bit depth); the decoder may know better */
  hint: FileHint;
  /** the mono analysis stream stops growing after this many seconds */
  maxSeconds: number;
  /**
   * Keep only these windows of the mono stream, joined in order (see `DecodedMono.excerpted`):
   * ffmpeg then mixes and resamples nothing else. Windows past the end of the file come out short
   * or empty.
   */
  excerpt?: readonly ExcerptWindow[];
  /** a buffer to keep the mono stream in, reused from track to track by an analysis thread */
  scratch?: MonoScratch;
  /** called once, before the first loudness chunk, with the loudness stream's format */
  onLoudnessFormat(format: LoudnessFormat): void;
  /** receives the loudness stream, interleaved, as it is decoded: floats, or 16-bit integers in the 's16' format */
  onLoudness(chunk: Float32Array | Int16Array): void;
  signal?: AbortSignal;
}

/** what the tags say of a file */
export interface FileHint {
  sampleRate: number | null;
  channels: number | null;
  seconds: number | null;
  /** the bits of its samples, for lossless integer formats only (null for lossy, float or DSD ones) */
  bitDepth?: number | null;
}

/**
 * The loudness stream's format for a file: its own rate up to 48 kHz, mono or stereo, and 16-bit
 * integers when the tags say its samples fit them unchanged. If the tags are wrong (a 24-bit file
 * tagged 16), the meter sees the samples rounded to 16 bits: an error under 0.001 dB.
 */
export function loudnessFormatFor(hint: FileHint): LoudnessFormat {
  const { sampleRate, channels, bitDepth } = hint;
  const rate = sampleRate !== null && sampleRate >= 8_000 && sampleRate <= LOUDNESS_RATE ? sampleRate : LOUDNESS_RATE;
  const unchanged = rate === sampleRate && (channels === 1 || channels === 2);
  const fits16 = bitDepth !== undefined && bitDepth !== null && bitDepth >= 1 && bitDepth <= 16;
  return { sampleRate: rate, channels: channels === 1 ? 1 : 2, sampleFormat: unchanged && fits16 ? 's16' : 'f32' };
}

export interface DecodedMono {
  mono: Float32Array;
  /** seconds of audio decoded in all (the mono stream may hold less) */
  seconds: number;
  decoder: DecoderName;
  /** true when `mono` holds only the requested excerpt windows (ffmpeg); false: the whole stream (WASM) */
  excerpted: boolean;
}

export type DecoderName = 'ffmpeg' | 'wasm';

/**
 * Decodes a file for analysis with ffmpeg when it is on PATH, else with the WASM decoders;
 * `decoder` forces one (tests and benches).
 */
export async function decodeForAnalysis(request: DecodeRequest, decoder: DecoderName | 'auto' = 'auto'): Promise<DecodedMono> {
  const use = decoder === 'auto' ? await (autoDecoder ??= probeDecoder()) : decoder;
  if (use === 'wasm') {
    const { decodeWithWasm } = await import('./decode_wasm.js');
    return decodeWithWasm(request);
  }
  return decodeWithFfmpeg(request);
}

async function decodeWithFfmpeg(request: DecodeRequest): Promise<DecodedMono> {
  const format = loudnessFormatFor(request.hint);
  const layout = format.channels === 1 ? 'mono' : 'stereo';
  const sampleFormat = format.sampleFormat === 's16' ? 's16' : 'flt';
  const toMono = `aformat=sample_fmts=flt:channel_layouts=mono,aresample=${ANALYSIS_RATE}`;
  const graph =
    `[0:a:0]asplit=2[l][m];` +
    // sample_rates: ffmpeg inserts a resampler only if the file's rate is not that one (an explicit
    // aresample costs ~4 % of the decode even when it has nothing to do); the output is the same
    `[l]aformat=sample_fmts=${sampleFormat}:channel_layouts=${layout}:sample_rates=${format.sampleRate}[lo];` +
    (request.excerpt ? excerptGraph('m', request.excerpt, toMono, 'mo') : `[m]${toMono}[mo]`);
  const ffmpeg = await launchFfmpeg(
    ([loudnessOut, monoOut]) =>
      // one thread: ffmpeg's decoder/filter threads cost a quarter more CPU for the same wall time,
      // and the analysis pool already keeps every core busy with one track per thread
      ['-v', 'error', '-nostdin', '-threads', '1', '-i', `file:${request.file}`, '-filter_complex_threads', '1', '-filter_complex', graph, '-map', '[lo]', '-f', `${format.sampleFormat}le`, loudnessOut!, '-map', '[mo]', '-f', 'f32le', monoOut!],
    2,
  );
  const abort = () => ffmpeg.kill();
  if (request.signal?.aborted) abort();
  request.signal?.addEventListener('abort', abort, { once: true });
  request.onLoudnessFormat(format);

  const excerptSeconds = request.excerpt ? request.excerpt.reduce((sum, w) => sum + w.length, 0) / ANALYSIS_RATE : null;
  const mono = new MonoBuffer(request.maxSeconds, excerptSeconds ?? request.hint.seconds, request.scratch);
  let loudnessSamples = 0;
  const onLoudness = (chunk: Float32Array | Int16Array) => {
    loudnessSamples += chunk.length;
    request.onLoudness(chunk);
  };
  const [loudnessStream, monoStream] = ffmpeg.outputs as [Promise<Readable | null>, Promise<Readable | null>];
  const loudness = loudnessStream.then((stream) => stream && (format.sampleFormat === 's16' ? int16Chunks(stream, onLoudness) : floatChunks(stream, onLoudness)));
  const analysis = monoStream.then((stream) => stream && floatChunks(stream, (chunk) => mono.append(chunk)));
  try {
    const [code] = await Promise.all([ffmpeg.exit, loudness, analysis]);
    if (request.signal?.aborted) throw request.signal.reason ?? new DecodeError('decoding aborted');
    if (code === 127) throw new DecodeError('ffmpeg is not installed (apt-get install ffmpeg)');
    const stderr = ffmpeg.stderr();
    if (code !== 0) throw new DecodeError(`ffmpeg could not decode the file: ${stderr.trim().split('\n').pop() || `exit ${code ?? 'by signal'}`}`);
    if (loudnessSamples === 0) throw new DecodeError('the file holds no audio samples');
    const seconds = loudnessSamples / format.channels / format.sampleRate;
    return { mono: mono.samples(), seconds, decoder: 'ffmpeg', excerpted: request.excerpt !== undefined };
  } finally {
    request.signal?.removeEventListener('abort', abort);
  }
}

/**
 * The filters that cut `windows` out of stream `input` (the file's own samples, before any mixing
 * or resampling, so that nothing is spent on the rest), join them, and pass the result through
 * `then` to `output`. atrim is sample-exact; each window restarts its timestamps at the end of the
 * previous one, as the concatenation expects.
 */
function excerptGraph(input: string, windows: readonly ExcerptWindow[], then: string, output: string): string {
  const seconds = (samples: number) => (samples / ANALYSIS_RATE).toFixed(6);
  const labels = windows.map((_, i) => `${input}${i}`);
  const cuts = windows.map((w, i) => `[${labels[i]}]atrim=start=${seconds(w.start)}:duration=${seconds(w.length)},asetpts=PTS-STARTPTS[${input}w${i}];`);
  const joined = windows.map((_, i) => `[${input}w${i}]`).join('');
  return `[${input}]asplit=${windows.length}${labels.map((l) => `[${l}]`).join('')};${cuts.join('')}${joined}concat=n=${windows.length}:v=0:a=1,${then}[${output}]`;
}

/** Holds the buffer a thread reuses; buffers over SCRATCH_MAX_SECONDS are not kept. */
export interface MonoScratch {
  data: Float32Array;
}

const SCRATCH_MAX_SECONDS = 360;

/**
 * The kept part of the mono stream: sized from the duration the tags give (so a 4-minute track
 * does not reserve 10 minutes), grown when the tags were wrong, never past `maxSeconds`. With a
 * scratch holder, its buffer is reused when large enough (no allocation, zeroing and garbage per
 * track), and a new one is left there for the next track.
 */
export class MonoBuffer {
  private data: Float32Array;
  private length = 0;
  private readonly max: number;

  constructor(maxSeconds: number, hintSeconds: number | null, private readonly scratch?: MonoScratch) {
    this.max = Math.floor(maxSeconds * ANALYSIS_RATE);
    const guess = hintSeconds !== null && hintSeconds > 0 ? (hintSeconds + 2) * ANALYSIS_RATE : 60 * ANALYSIS_RATE;
    const size = Math.min(this.max, Math.ceil(guess));
    this.data = scratch && scratch.data.length >= size ? scratch.data : this.allocate(size);
  }

  private allocate(size: number): Float32Array {
    const data = new Float32Array(size);
    if (this.scratch && size <= SCRATCH_MAX_SECONDS * ANALYSIS_RATE) this.scratch.data = data;
    return data;
  }

  append(chunk: Float32Array): void {
    const room = Math.min(chunk.length, this.max - this.length);
    if (room <= 0) return;
    if (this.length + room > this.data.length) {
      const grown = this.allocate(Math.min(this.max, Math.max(this.length + room, Math.ceil(this.data.length * 1.5))));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(chunk.subarray(0, room), this.length);
    this.length += room;
  }

  samples(): Float32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Reads a stream of little-endian float32 samples, handing out whole-sample chunks. */
function floatChunks(stream: Readable, onChunk: (samples: Float32Array) => void): Promise<void> {
  return sampleChunks(stream, 4, (buffer, offset, count) => onChunk(new Float32Array(buffer, offset, count)));
}

/** Reads a stream of little-endian 16-bit samples, handing out whole-sample chunks. */
function int16Chunks(stream: Readable, onChunk: (samples: Int16Array) => void): Promise<void> {
  return sampleChunks(stream, 2, (buffer, offset, count) => onChunk(new Int16Array(buffer, offset, count)));
}

/**
 * Hands out a stream's bytes as whole samples of `size` bytes at an aligned offset: in place when
 * a chunk already is (the usual case; the stream does not reuse its chunks), else copied.
 */
function sampleChunks(stream: Readable, size: number, onSamples: (buffer: ArrayBufferLike, offset: number, count: number) => void): Promise<void> {
  let carry: Buffer | null = null;
  return new Promise((resolve, reject) => {
    stream.on('data', (data: Buffer) => {
      if (!carry && data.byteOffset % size === 0 && data.length % size === 0) {
        if (data.length > 0) onSamples(data.buffer, data.byteOffset, data.length / size);
        return;
      }
      const buffer = carry ? Buffer.concat([carry, data]) : data;
      const whole = buffer.length - (buffer.length % size);
      carry = whole < buffer.length ? Buffer.from(buffer.subarray(whole)) : null;
      if (whole === 0) return;
      const aligned = new Uint8Array(whole);
      aligned.set(buffer.subarray(0, whole));
      onSamples(aligned.buffer, 0, whole / size);
    });
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}
