// Decoding for analysis: one Debian ffmpeg process per track, decoding once and writing two
// streams: the file's own channels (mono stays mono, more than two are mixed to stereo) at 48 kHz
// for loudness, and a mono 22,050 Hz stream for tempo, key and spectral features. Both arrive as
// 32-bit float chunks; the mono stream is kept only up to `maxSeconds` (bounded memory), the
// loudness stream is never kept at all.
import { spawn, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';

export const ANALYSIS_RATE = 22_050;
export const LOUDNESS_RATE = 48_000;

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

let ffmpegPresent: boolean | undefined;

/** Whether Debian's ffmpeg is on PATH (checked once). */
export function hasFfmpeg(): boolean {
  ffmpegPresent ??= spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
  return ffmpegPresent;
}

export interface DecodeRequest {
  file: string;
  /** channels of the loudness stream: 1 for a mono file, else 2 */
  loudnessChannels: 1 | 2;
  /** the mono analysis stream stops growing after this many seconds */
  maxSeconds: number;
  /** receives the loudness stream, interleaved, as it is decoded */
  onLoudness(chunk: Float32Array): void;
  signal?: AbortSignal;
}

export interface DecodedMono {
  mono: Float32Array;
  /** seconds of audio decoded in all (the mono stream may hold less) */
  seconds: number;
}

export async function decodeForAnalysis(request: DecodeRequest): Promise<DecodedMono> {
  if (!hasFfmpeg()) throw new DecodeError('ffmpeg is not installed (apt-get install ffmpeg): audio analysis needs it');
  const layout = request.loudnessChannels === 1 ? 'mono' : 'stereo';
  const graph =
    `[0:a:0]asplit=2[l][m];` +
    `[l]aformat=sample_fmts=flt:channel_layouts=${layout},aresample=${LOUDNESS_RATE}[lo];` +
    `[m]aformat=sample_fmts=flt:channel_layouts=mono,aresample=${ANALYSIS_RATE}[mo]`;
  const child = spawn(
    'ffmpeg',
    ['-v', 'error', '-nostdin', '-i', request.file, '-filter_complex', graph, '-map', '[lo]', '-f', 'f32le', 'pipe:3', '-map', '[mo]', '-f', 'f32le', 'pipe:4'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  const abort = () => child.kill('SIGKILL');
  request.signal?.addEventListener('abort', abort, { once: true });

  const maxSamples = Math.floor(request.maxSeconds * ANALYSIS_RATE);
  const mono = new Float32Array(maxSamples);
  let kept = 0;
  let monoSamples = 0;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 4_000) stderr += chunk.toString();
  });

  const loudness = floatChunks(child.stdio[3] as Readable, request.onLoudness);
  const analysis = floatChunks(child.stdio[4] as Readable, (chunk) => {
    monoSamples += chunk.length;
    const room = Math.min(chunk.length, maxSamples - kept);
    if (room > 0) {
      mono.set(chunk.subarray(0, room), kept);
      kept += room;
    }
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  try {
    const [code] = await Promise.all([exit, loudness, analysis]);
    if (request.signal?.aborted) throw request.signal.reason ?? new DecodeError('decoding aborted');
    if (code !== 0) throw new DecodeError(`ffmpeg could not decode the file: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`);
    if (monoSamples === 0) throw new DecodeError('the file holds no audio samples');
    return { mono: mono.subarray(0, kept), seconds: monoSamples / ANALYSIS_RATE };
  } finally {
    request.signal?.removeEventListener('abort', abort);
  }
}

/** Reads a stream of little-endian float32 samples, handing out whole-sample chunks. */
function floatChunks(stream: Readable, onChunk: (samples: Float32Array) => void): Promise<void> {
  let carry: Buffer | null = null;
  return new Promise((resolve, reject) => {
    stream.on('data', (data: Buffer) => {
      if (!carry && data.byteOffset % 4 === 0 && data.length % 4 === 0) {
        // the usual case: whole samples at an aligned offset, read in place (the chunk is not
        // reused by the stream, and the consumers copy what they keep)
        if (data.length > 0) onChunk(new Float32Array(data.buffer, data.byteOffset, data.length / 4));
        return;
      }
      let buffer = carry ? Buffer.concat([carry, data]) : data;
      const whole = buffer.length - (buffer.length % 4);
      carry = whole < buffer.length ? Buffer.from(buffer.subarray(whole)) : null;
      if (whole === 0) return;
      // copy into an aligned buffer: Float32Array needs a 4-byte aligned offset
      const aligned = new Float32Array(whole / 4);
      new Uint8Array(aligned.buffer).set(buffer.subarray(0, whole));
      buffer = Buffer.alloc(0);
      onChunk(aligned);
    });
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}
