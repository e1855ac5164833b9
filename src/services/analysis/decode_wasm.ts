// The pure-WASM fallback decoder, used when ffmpeg is not on PATH. It yields the same two streams
// as the ffmpeg path of decode.ts: the loudness stream (the file's channels, mono kept mono, more
// than two mixed to stereo, at the file's own rate unless that is outside 8–48 kHz, then 48 kHz)
// and the mono 22,050 Hz analysis stream, kept up to `maxSeconds`.
//
// Memory stays bounded: the file is read in chunks (256 KiB for FLAC and WAV, 64 KiB for the lossy
// formats: a few seconds of audio either way) and fed to streaming decoders; each decoded block is
// mixed, resampled and handed on, then dropped. What stays is the mono stream (at most
// `maxSeconds` of it), the resampler's filter history and the decoder's WebAssembly memory
// (16 to 30 MB, freed with the decoder).
//
// Decoders (npm packages, WebAssembly builds of the reference C libraries):
//   FLAC and Ogg FLAC   @wasm-audio-decoders/flac        (MIT; libFLAC, BSD-3-Clause)
//   Ogg Vorbis          @wasm-audio-decoders/ogg-vorbis  (MIT; libvorbis, BSD-3-Clause)
//   Ogg Opus            ogg-opus-decoder / opus-decoder  (MIT; libopus, BSD-3-Clause)
//   MPEG audio (mp3)    mpg123-decoder                   (MIT wrapper; libmpg123, LGPL-2.1)
//   The Ogg and FLAC framing of the first three is parsed by codec-parser (LGPL-3.0-or-later).
//   The LGPL parts are used unmodified, as separate npm packages that can be replaced.
//   WAV (PCM 8/16/24/32-bit, float 32/64-bit, WAVE_FORMAT_EXTENSIBLE, RF64) is parsed here.
// Anything else (AAC, ALAC, WMA, …) needs ffmpeg.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

import { ANALYSIS_RATE, DecodeError, type DecodeRequest, type DecodedMono } from './decode.js';
import type { StreamDecoder } from './wasm/channels.js';
import { createDecoder } from './wasm/decoders.js';
import { id3v2Length, recognise } from './wasm/recognise.js';
import { AnalysisSink } from './wasm/sink.js';

/** the file extensions the WASM decoders read (lower case, with the dot, as in scan/walk.ts) */
export const WASM_FORMATS: ReadonlySet<string> = new Set(['.mp3', '.mp2', '.flac', '.ogg', '.oga', '.opus', '.wav']);

/** bytes read at a time: about 1.5 s of CD audio in FLAC or WAV, */
const READ_BYTES = 256 * 1024;
/** and 3 to 5 s of MP3, Vorbis or Opus (their decoded blocks would be larger otherwise) */
const LOSSY_READ_BYTES = 64 * 1024;

export async function decodeWithWasm(request: DecodeRequest): Promise<DecodedMono> {
  const ext = path.extname(request.file).toLowerCase();
  if (!WASM_FORMATS.has(ext)) {
    const name = ext ? ext.slice(1) : 'a file without an extension';
    throw new DecodeError(`${name} cannot be decoded without ffmpeg (apt-get install ffmpeg): the WASM decoders read mp3, flac, ogg, opus, wav`);
  }
  throwIfAborted(request.signal);

  let handle: FileHandle;
  try {
    handle = await open(request.file, 'r');
  } catch (err) {
    throw new DecodeError(`cannot read the file: ${(err as Error).message}`);
  }
  let decoder: StreamDecoder | null = null;
  try {
    // the first read also serves to recognise the stream, past any ID3v2 tag (cover art can be large)
    let position = 0;
    let chunk = await readAt(handle, 0, READ_BYTES);
    const tag = id3v2Length(chunk);
    if (tag > 0) {
      position = tag;
      chunk = await readAt(handle, position, READ_BYTES);
      if (chunk.length === 0) throw new DecodeError('the file holds an ID3 tag and no audio');
    }
    const kind = recognise(chunk, ext);
    decoder = await createDecoder(kind, chunk);
    const sink = new AnalysisSink(request);
    const readBytes = kind === 'flac' || kind === 'wav' ? READ_BYTES : LOSSY_READ_BYTES;

    while (chunk.length > 0) {
      throwIfAborted(request.signal);
      position += chunk.length;
      sink.take(await failing(decoder, decoder.decode(chunk)), decoder);
      chunk = await readAt(handle, position, readBytes);
    }
    throwIfAborted(request.signal);
    const tail = await failing(decoder, decoder.flush());
    if (tail) sink.take(tail, decoder);
    sink.finish();

    if (sink.monoSamples === 0) {
      if (sink.firstError) throw new DecodeError(`the ${decoder.name} decoder could not decode the file: ${sink.firstError}`);
      throw new DecodeError('the file holds no audio samples');
    }
    return { mono: sink.mono.samples(), seconds: sink.monoSamples / ANALYSIS_RATE, decoder: 'wasm', excerpted: false };
  } finally {
    decoder?.free();
    await handle.close();
  }
}

/** a decoder's own exception (a codec the framing does not expect, a broken stream) as a DecodeError */
async function failing<T>(decoder: StreamDecoder, result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`the ${decoder.name} decoder could not decode the file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DecodeError('decoding aborted');
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  // a fresh buffer for every read: the Ogg/FLAC framing keeps views of the bytes it was given
  const buffer = new Uint8Array(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

