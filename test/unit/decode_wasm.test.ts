// The pure-WASM fallback decoder: test files are made with ffmpeg (installed here and in CI), decoded
// with decodeWithWasm, and checked against what the signal is and against the ffmpeg path.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ANALYSIS_RATE, DecodeError, decodeForAnalysis, type DecodeRequest, type LoudnessFormat } from '../../src/services/analysis/decode.js';
import { WASM_FORMATS, decodeWithWasm } from '../../src/services/analysis/decode_wasm.js';
import { Resampler } from '../../src/services/analysis/wasm/resampler.js';
import { LoudnessMeter } from '../../src/services/analysis/loudness.js';

const SECONDS = 5;
const AMPLITUDE = 0.5;
const FREQUENCY = 440;

let dir = '';

function ffmpeg(...args: string[]): void {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-nostdin', '-y', ...args], { encoding: 'utf8' });
  assert.equal(run.status, 0, `ffmpeg ${args.join(' ')} failed: ${run.stderr}`);
}

/** a sine of AMPLITUDE in every channel, as an ffmpeg input */
function sine(rate: number, channels: number, frequency = FREQUENCY, seconds = SECONDS): string[] {
  const wave = `${AMPLITUDE}*sin(2*PI*${frequency}*t)`;
  const layout = channels === 1 ? 'mono' : channels === 2 ? 'stereo' : '5.1';
  return ['-f', 'lavfi', '-i', `aevalsrc=${Array(channels).fill(wave).join('|')}:s=${rate}:d=${seconds}:c=${layout}`];
}

function make(name: string, input: string[], codec: string[] = []): string {
  const file = path.join(dir, name);
  ffmpeg(...input, ...codec, file);
  return file;
}

interface Decoded {
  mono: Float32Array;
  seconds: number;
  decoder: string;
  format: LoudnessFormat;
  formatCalls: number;
  loudness: Float32Array;
  /** the loudness chunks as the decoder handed them out */
  chunks: (Float32Array | Int16Array)[];
}

function request(file: string, hint: Partial<DecodeRequest['hint']> = {}, extra: Partial<DecodeRequest> = {}) {
  const chunks: (Float32Array | Int16Array)[] = [];
  const state = { format: null as LoudnessFormat | null, calls: 0, chunksBeforeFormat: 0 };
  const req: DecodeRequest = {
    file,
    hint: { sampleRate: hint.sampleRate ?? null, channels: hint.channels ?? null, seconds: hint.seconds ?? null, bitDepth: hint.bitDepth ?? null },
    maxSeconds: 600,
    onLoudnessFormat(format) {
      state.format = format;
      state.calls++;
    },
    onLoudness(chunk) {
      if (state.format === null) state.chunksBeforeFormat++;
      chunks.push(chunk.slice());
    },
    ...extra,
  };
  const collect = (result: { mono: Float32Array; seconds: number; decoder: string }): Decoded => {
    assert.equal(state.chunksBeforeFormat, 0, 'a loudness chunk came before the format');
    const loudness = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      // 16-bit chunks (the 's16' format) as the floats ffmpeg's own conversion gives
      loudness.set(c instanceof Int16Array ? Float32Array.from(c, (v) => v / 32768) : c, at);
      at += c.length;
    }
    return { ...result, format: state.format!, formatCalls: state.calls, loudness, chunks };
  };
  return { req, collect };
}

async function wasm(file: string, hint: Partial<DecodeRequest['hint']> = {}, extra: Partial<DecodeRequest> = {}): Promise<Decoded> {
  const { req, collect } = request(file, hint, extra);
  return collect(await decodeWithWasm(req));
}

async function viaFfmpeg(file: string, hint: Partial<DecodeRequest['hint']>): Promise<Decoded> {
  const { req, collect } = request(file, hint);
  return collect(await decodeForAnalysis(req, 'ffmpeg'));
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

/** amplitude of the `frequency` component of every `stride`-th sample from `offset` (Hann window) */
function toneAmplitude(x: Float32Array, rate: number, frequency: number, stride = 1, offset = 0): number {
  const n = Math.floor((x.length - offset) / stride);
  const from = Math.floor(n * 0.1);
  const count = Math.floor(n * 0.8);
  const w = (2 * Math.PI * frequency) / rate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < count; i++) {
    const v = x[(from + i) * stride + offset]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / count));
    re += v * Math.cos(w * i);
    im += v * Math.sin(w * i);
  }
  return (4 * Math.hypot(re, im)) / count;
}

/** the frequency of a tone from its zero crossings (the middle 80 %) */
function zeroCrossingFrequency(x: Float32Array, rate: number): number {
  const from = Math.floor(x.length * 0.1);
  const to = Math.floor(x.length * 0.9);
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if (x[i - 1]! < 0 !== x[i]! < 0) crossings++;
  return crossings / 2 / ((to - from) / rate);
}

const db = (ratio: number) => 20 * Math.log10(ratio);

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * relative, `${what}: ${actual} is not within ${relative * 100} % of ${expected}`);
}

async function assertDecodeError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-wasm-'));
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('decodeWithWasm on a 440 Hz sine', () => {
  const cases: Array<{ name: string; file: string; input: () => string[]; codec: string[]; rate: number; channels: number; loudness: LoudnessFormat; lossy: boolean }> = [
    { name: 'FLAC', file: 'tone.flac', input: () => sine(44_100, 2), codec: [], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'MP3', file: 'tone.mp3', input: () => sine(44_100, 2), codec: ['-b:a', '192k'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: true },
    { name: 'Ogg Vorbis', file: 'tone.ogg', input: () => sine(44_100, 2), codec: ['-c:a', 'libvorbis'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: true },
    { name: 'Opus', file: 'tone.opus', input: () => sine(44_100, 2), codec: ['-c:a', 'libopus', '-b:a', '160k'], rate: 48_000, channels: 2, loudness: { sampleRate: 48_000, channels: 2, sampleFormat: 'f32' }, lossy: true },
    { name: 'Ogg FLAC (.oga)', file: 'tone.oga', input: () => sine(44_100, 2), codec: ['-c:a', 'flac'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV 16-bit', file: 'tone16.wav', input: () => sine(44_100, 2), codec: ['-c:a', 'pcm_s16le'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV 24-bit', file: 'tone24.wav', input: () => sine(44_100, 2), codec: ['-c:a', 'pcm_s24le'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV 32-bit', file: 'tone32.wav', input: () => sine(44_100, 2), codec: ['-c:a', 'pcm_s32le'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV float', file: 'tonef32.wav', input: () => sine(44_100, 2), codec: ['-c:a', 'pcm_f32le'], rate: 44_100, channels: 2, loudness: { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV 8-bit', file: 'tone8.wav', input: () => sine(22_050, 2), codec: ['-c:a', 'pcm_u8'], rate: 22_050, channels: 2, loudness: { sampleRate: 22_050, channels: 2, sampleFormat: 'f32' }, lossy: true },
    { name: 'WAV 96 kHz', file: 'tone96k.wav', input: () => sine(96_000, 2), codec: ['-c:a', 'pcm_s24le'], rate: 96_000, channels: 2, loudness: { sampleRate: 48_000, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'WAV 6 kHz', file: 'tone6k.wav', input: () => sine(6_000, 2), codec: [], rate: 6_000, channels: 2, loudness: { sampleRate: 48_000, channels: 2, sampleFormat: 'f32' }, lossy: false },
    { name: 'mono FLAC 32 kHz', file: 'mono.flac', input: () => sine(32_000, 1), codec: [], rate: 32_000, channels: 1, loudness: { sampleRate: 32_000, channels: 1, sampleFormat: 'f32' }, lossy: false },
    { name: 'mono MP3', file: 'mono.mp3', input: () => sine(44_100, 1), codec: ['-b:a', '128k'], rate: 44_100, channels: 1, loudness: { sampleRate: 44_100, channels: 1, sampleFormat: 'f32' }, lossy: true },
    { name: '5.1 FLAC 48 kHz', file: 'surround.flac', input: () => sine(48_000, 6), codec: [], rate: 48_000, channels: 6, loudness: { sampleRate: 48_000, channels: 2, sampleFormat: 'f32' }, lossy: false },
  ];

  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const file = make(c.file, c.input(), c.codec);
      const hint = { sampleRate: c.rate, channels: c.channels, seconds: SECONDS };
      const got = await wasm(file, hint);

      assert.equal(got.decoder, 'wasm');
      assert.equal(got.formatCalls, 1);
      assert.deepEqual(got.format, c.loudness);
      assertClose(got.seconds, SECONDS, 0.02, 'seconds');
      assert.ok(Math.abs(got.mono.length - Math.round(got.seconds * ANALYSIS_RATE)) <= 1, `mono length ${got.mono.length} for ${got.seconds} s`);

      // the mono stream is the tone: 440 Hz, and (nearly) all of its energy there
      const monoRms = rms(got.mono, got.mono.length * 0.1, got.mono.length * 0.9);
      assertClose(zeroCrossingFrequency(got.mono, ANALYSIS_RATE), FREQUENCY, 0.005, 'zero-crossing frequency');
      assertClose(toneAmplitude(got.mono, ANALYSIS_RATE, FREQUENCY), monoRms * Math.SQRT2, 0.03, '440 Hz amplitude against the RMS');
      assert.ok(toneAmplitude(got.mono, ANALYSIS_RATE, 2 * FREQUENCY) < monoRms * 0.01, 'energy at 880 Hz');
      // the mono mix: one channel as it is, two as (L + R)·√½, 5.1 as ffmpeg mixes it
      const expectedMonoRms = c.channels === 1 ? AMPLITUDE / Math.SQRT2 : c.channels === 2 ? AMPLITUDE : (AMPLITUDE * (2 * Math.SQRT1_2 + 1 + 2 * 0.5)) / Math.SQRT2;
      assertClose(monoRms, expectedMonoRms, c.lossy ? 0.05 : 0.01, 'mono RMS');

      // the loudness stream: the file's channels (or a stereo mix), the format's rate, the tone's level
      const frames = got.loudness.length / got.format.channels;
      assert.ok(Number.isInteger(frames), 'whole frames in the loudness stream');
      assertClose(frames / got.format.sampleRate, SECONDS, 0.02, 'loudness stream duration');
      const channelRms = c.channels <= 2 ? AMPLITUDE / Math.SQRT2 : (AMPLITUDE * (1 + Math.SQRT1_2 + Math.SQRT1_2)) / Math.SQRT2;
      assertClose(rms(got.loudness, got.loudness.length * 0.1, got.loudness.length * 0.9), channelRms, c.lossy ? 0.05 : 0.01, 'loudness RMS');
      for (let ch = 0; ch < got.format.channels; ch++) {
        assertClose(toneAmplitude(got.loudness, got.format.sampleRate, FREQUENCY, got.format.channels, ch), channelRms * Math.SQRT2, 0.05, `440 Hz in loudness channel ${ch}`);
      }

      // and the ffmpeg path agrees
      const ref = await viaFfmpeg(file, hint);
      assert.deepEqual(ref.format, got.format);
      assertClose(got.seconds, ref.seconds, 0.01, 'seconds against ffmpeg');
      const diff = db(rms(got.mono) / rms(ref.mono));
      assert.ok(Math.abs(diff) < 0.5, `mono RMS is ${diff.toFixed(2)} dB from ffmpeg's`);
      const loudDiff = db(rms(got.loudness) / rms(ref.loudness));
      assert.ok(Math.abs(loudDiff) < 0.5, `loudness RMS is ${loudDiff.toFixed(2)} dB from ffmpeg's`);
    });
  }
});

describe('the ffmpeg loudness stream of 16-bit files', () => {
  // a loud, wide-band signal: a sine near full scale (-32768 included) plus noise, so that every
  // bit of the 16-bit samples is exercised
  const loud = (rate: number, channels: number) => {
    const wave = '0.99*sin(2*PI*997*t)+0.2*(random(0)-0.5)';
    const layout = channels === 1 ? 'mono' : channels === 2 ? 'stereo' : '5.1';
    return ['-f', 'lavfi', '-i', `aevalsrc=${Array(channels).fill(wave).join('|')}:s=${rate}:d=${SECONDS}:c=${layout}`];
  };
  const cases = [
    { name: 'stereo FLAC 44.1 kHz', file: 's16.flac', rate: 44_100, channels: 2, codec: ['-sample_fmt', 's16'], bitDepth: 16, expect: 's16' },
    { name: 'mono WAV 32 kHz', file: 's16-mono.wav', rate: 32_000, channels: 1, codec: ['-c:a', 'pcm_s16le'], bitDepth: 16, expect: 's16' },
    { name: '24-bit FLAC', file: 's24.flac', rate: 48_000, channels: 2, codec: ['-sample_fmt', 's32'], bitDepth: 24, expect: 'f32' },
    { name: '16-bit FLAC at 96 kHz (resampled for the meter)', file: 's16-96k.flac', rate: 96_000, channels: 2, codec: ['-sample_fmt', 's16'], bitDepth: 16, expect: 'f32' },
    { name: '16-bit 5.1 FLAC (mixed to stereo)', file: 's16-51.flac', rate: 48_000, channels: 6, codec: ['-sample_fmt', 's16'], bitDepth: 16, expect: 'f32' },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: ${c.expect === 's16' ? 'read as 16-bit integers, with the same loudness, peaks and blocks as from floats' : 'stays float'}`, { timeout: 60_000 }, async () => {
      const file = make(c.file, loud(c.rate, c.channels), [...c.codec]);
      const hint = { sampleRate: c.rate, channels: c.channels, seconds: SECONDS };
      const tagged = await viaFfmpeg(file, { ...hint, bitDepth: c.bitDepth });
      const untagged = await viaFfmpeg(file, hint);
      assert.equal(tagged.format.sampleFormat, c.expect);
      assert.equal(untagged.format.sampleFormat, 'f32');
      assert.equal(tagged.loudness.length, untagged.loudness.length);
      let differ = 0;
      for (let i = 0; i < tagged.loudness.length; i++) if (tagged.loudness[i] !== untagged.loudness[i]) differ++;
      assert.equal(differ, 0, `${differ} of ${tagged.loudness.length} loudness samples differ`);
      if (c.expect === 's16') assert.ok(tagged.loudness.some((v) => Math.abs(v) > 0.99), 'the signal reaches full scale');
      assert.deepEqual(tagged.mono, untagged.mono);
      assert.ok(tagged.chunks.every((chunk) => chunk instanceof (c.expect === 's16' ? Int16Array : Float32Array)));
      // the meter reads 16-bit chunks in place: the same figures, to the last bit, as from the same
      // chunks converted to floats
      const meter = (chunks: (Float32Array | Int16Array)[]) => {
        const m = new LoudnessMeter(tagged.format.sampleRate, tagged.format.channels);
        for (const chunk of chunks) m.push(chunk);
        return { result: m.result(), blocks: [...m.blocks()] };
      };
      const asFloats = tagged.chunks.map((chunk) => (chunk instanceof Int16Array ? Float32Array.from(chunk, (v) => v / 32768) : chunk));
      const fromInts = meter(tagged.chunks);
      assert.deepEqual(fromInts, meter(asFloats));
      assert.ok(fromInts.result.truePeak > fromInts.result.samplePeak, 'true peak between samples');
    });
  }
});

describe('decodeWithWasm, other streams', () => {
  // each codec has its own channel order; the mix must come out as ffmpeg's does
  for (const [ext, codec, tolerance] of [
    ['flac', [], 1e-4],
    ['wav', [], 1e-4],
    ['ogg', ['-c:a', 'libvorbis', '-q:a', '8'], 1e-3],
    ['opus', ['-c:a', 'libopus', '-b:a', '384k'], 1e-3],
  ] as const) {
    it(`matches ffmpeg sample for sample on a 5.1 .${ext} file (channel order and mix)`, { timeout: 60_000 }, async () => {
      const tones = [200, 300, 500, 700, 1100, 1300]; // FL FR FC LFE BL BR
      const graph = tones.map((f, i) => `sine=f=${f}:sample_rate=48000:d=3[s${i}];`).join('') + `${tones.map((_, i) => `[s${i}]`).join('')}join=inputs=6:channel_layout=5.1[out]`;
      const file = path.join(dir, `channels.${ext}`);
      ffmpeg('-filter_complex', graph, '-map', '[out]', ...codec, file);
      const hint = { sampleRate: 48_000, channels: 6, seconds: 3 };
      const got = await wasm(file, hint);
      const ref = await viaFfmpeg(file, hint);
      assert.deepEqual(got.format, { sampleRate: 48_000, channels: 2, sampleFormat: 'f32' });
      assert.equal(got.loudness.length, ref.loudness.length);
      let worst = 0;
      for (let i = 0; i < got.loudness.length; i++) worst = Math.max(worst, Math.abs(got.loudness[i]! - ref.loudness[i]!));
      assert.ok(worst < tolerance, `loudness streams differ by up to ${worst}`);
      const [left, right] = [0, 1].map((ch) => (f: number) => toneAmplitude(got.loudness, 48_000, f, 2, ch));
      // front left only on the left, front right only on the right, the centre on both, the LFE left out
      assert.ok(left!(300) > 0.1 && right!(300) < 1e-3, 'front left');
      assert.ok(right!(500) > 0.1 && left!(500) < 1e-3, 'front right');
      assert.ok(left!(200) > 0.05 && right!(200) > 0.05, 'centre');
      assert.ok(left!(1100) > 0.05 && right!(1100) < 1e-3 && right!(1300) > 0.05 && left!(1300) < 1e-3, 'surrounds');
      assert.ok(left!(700) < 1e-3 && toneAmplitude(got.mono, ANALYSIS_RATE, 700) < 1e-3, 'LFE');
      // the mono streams agree away from the edges (both resample 48 kHz to 22,050 Hz)
      assert.equal(got.mono.length, ref.mono.length);
      let monoWorst = 0;
      for (let i = 2_000; i < got.mono.length - 2_000; i++) monoWorst = Math.max(monoWorst, Math.abs(got.mono[i]! - ref.mono[i]!));
      assert.ok(monoWorst < 2e-3, `mono streams differ by up to ${monoWorst}`);
    });
  }

  it('keeps frequencies above 11,025 Hz out of the mono stream (no aliasing)', { timeout: 60_000 }, async () => {
    const file = make('high.flac', sine(44_100, 2, 15_000));
    const got = await wasm(file);
    // 15 kHz would fold to 7,050 Hz at 22,050 Hz
    assert.ok(rms(got.mono) < AMPLITUDE * 1e-3, `mono RMS ${rms(got.mono)} leaks through`);
    assert.ok(toneAmplitude(got.mono, ANALYSIS_RATE, 7_050) < AMPLITUDE * 1e-3);
    // the loudness stream, at the file's own rate, keeps it
    assertClose(rms(got.loudness), AMPLITUDE / Math.SQRT2, 0.01, 'loudness RMS');
  });

  it('skips a large ID3v2 tag (cover art) before an MP3 stream', { timeout: 60_000 }, async () => {
    const cover = path.join(dir, 'cover.png');
    ffmpeg('-f', 'lavfi', '-i', 'nullsrc=s=700x700,geq=random(1)*255:random(2)*255:random(3)*255', '-frames:v', '1', cover);
    const tone = make('plain.wav', sine(44_100, 2));
    const file = path.join(dir, 'tagged.mp3');
    ffmpeg('-i', tone, '-i', cover, '-map', '0', '-map', '1', '-c:v', 'copy', '-id3v2_version', '3', '-write_id3v1', '1', '-metadata', 'title=Tagged', file);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.subarray(0, 3).toString('latin1'), 'ID3');
    assert.ok(bytes.length > 400_000, 'the tag is larger than one read');
    const got = await wasm(file);
    assertClose(got.seconds, SECONDS, 0.02, 'seconds');
    assertClose(zeroCrossingFrequency(got.mono, ANALYSIS_RATE), FREQUENCY, 0.005, 'frequency');
  });

  it('decodes by content: an Ogg Vorbis stream named .opus', { timeout: 60_000 }, async () => {
    const file = make('vorbis.opus', sine(44_100, 2), ['-c:a', 'libvorbis', '-f', 'ogg']);
    const got = await wasm(file);
    assert.deepEqual(got.format, { sampleRate: 44_100, channels: 2, sampleFormat: 'f32' });
    assertClose(got.seconds, SECONDS, 0.02, 'seconds');
  });

  it('caps the mono stream at maxSeconds but counts all of the audio', { timeout: 60_000 }, async () => {
    const file = make('cap.flac', sine(44_100, 2));
    const got = await wasm(file, { seconds: 1 }, { maxSeconds: 2 });
    assert.equal(got.mono.length, 2 * ANALYSIS_RATE);
    assertClose(got.seconds, SECONDS, 0.001, 'seconds');
    assertClose(got.loudness.length / 2 / 44_100, SECONDS, 0.001, 'loudness duration');
  });

  it('grows the mono stream past a wrong duration hint', { timeout: 60_000 }, async () => {
    const file = make('hint.wav', sine(48_000, 1));
    const got = await wasm(file, { seconds: 1 });
    assert.equal(got.mono.length, SECONDS * ANALYSIS_RATE);
  });

  it('is what decodeForAnalysis(request, "wasm") runs', { timeout: 60_000 }, async () => {
    const file = make('via.flac', sine(44_100, 2));
    const { req, collect } = request(file);
    const got = collect(await decodeForAnalysis(req, 'wasm'));
    assert.equal(got.decoder, 'wasm');
    assertClose(got.seconds, SECONDS, 0.001, 'seconds');
  });

  it('lists the extensions it reads', () => {
    for (const ext of ['.mp3', '.flac', '.ogg', '.oga', '.opus', '.wav']) assert.ok(WASM_FORMATS.has(ext), ext);
    for (const ext of ['.m4a', '.aac', '.wma', '.alac', '.mp4']) assert.ok(!WASM_FORMATS.has(ext), ext);
  });
});

describe('decodeWithWasm errors', () => {
  it('refuses AAC in .m4a, saying ffmpeg is needed', { timeout: 60_000 }, async () => {
    const file = make('tone.m4a', sine(44_100, 2), ['-c:a', 'aac']);
    await assertDecodeError(wasm(file), /^m4a cannot be decoded without ffmpeg \(apt-get install ffmpeg\): the WASM decoders read mp3, flac, ogg, opus, wav$/);
  });

  it('refuses WMA, saying ffmpeg is needed', { timeout: 60_000 }, async () => {
    const file = make('tone.wma', sine(44_100, 2), ['-c:a', 'wmav2']);
    await assertDecodeError(wasm(file), /wma cannot be decoded without ffmpeg/);
  });

  it('refuses compressed WAV (IMA ADPCM), saying ffmpeg is needed', { timeout: 60_000 }, async () => {
    const file = make('adpcm.wav', sine(44_100, 2), ['-c:a', 'adpcm_ima_wav']);
    await assertDecodeError(wasm(file), /IMA ADPCM.*without ffmpeg/);
  });

  for (const ext of ['flac', 'mp3', 'ogg', 'opus', 'wav']) {
    it(`refuses random bytes named .${ext}`, { timeout: 20_000 }, async () => {
      const file = path.join(dir, `random.${ext}`);
      fs.writeFileSync(file, randomBytes(300_000, ext.length));
      await assertDecodeError(wasm(file), /not a valid/);
    });
  }

  it('refuses a FLAC signature followed by garbage', { timeout: 20_000 }, async () => {
    const file = path.join(dir, 'garbage.flac');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('fLaC'), randomBytes(300_000, 7)]));
    await assertDecodeError(wasm(file), /no audio samples|could not decode|corrupt/);
  });

  it('refuses an Ogg file whose chained streams change codec, with the decoder\'s message', { timeout: 20_000 }, async () => {
    const opus = fs.readFileSync(make('chain-a.opus', sine(48_000, 2, FREQUENCY, 1), ['-c:a', 'libopus']));
    const vorbis = fs.readFileSync(make('chain-b.ogg', sine(48_000, 2, FREQUENCY, 1), ['-c:a', 'libvorbis']));
    const file = path.join(dir, 'chained.opus');
    fs.writeFileSync(file, Buffer.concat([opus, vorbis]));
    await assertDecodeError(wasm(file), /^the Opus decoder could not decode the file: .*vorbis/);
  });

  it('refuses an Ogg file that starts with a video stream, saying ffmpeg is needed', { timeout: 20_000 }, async () => {
    const file = make('video.ogg', ['-f', 'lavfi', '-i', 'testsrc=d=1', ...sine(44_100, 2, FREQUENCY, 1)], ['-c:v', 'libtheora', '-c:a', 'libvorbis']);
    await assertDecodeError(wasm(file), /Theora video cannot be decoded without ffmpeg/);
  });

  it('refuses an empty file and a missing one', { timeout: 20_000 }, async () => {
    const empty = path.join(dir, 'empty.mp3');
    fs.writeFileSync(empty, '');
    await assertDecodeError(wasm(empty), /empty/);
    await assertDecodeError(wasm(path.join(dir, 'missing.flac')), /cannot read the file/);
  });

  it('refuses a WAV without samples', { timeout: 20_000 }, async () => {
    const file = make('silent.wav', ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-t', '0']);
    await assertDecodeError(wasm(file), /^the file holds no audio samples$/);
  });

  it('decodes what is there of a truncated FLAC file', { timeout: 20_000 }, async () => {
    const whole = fs.readFileSync(make('whole.flac', sine(44_100, 2)));
    const file = path.join(dir, 'truncated.flac');
    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const got = await wasm(file);
    assert.ok(got.seconds > 1 && got.seconds < 4, `${got.seconds} s`);
  });

  it('stops when the signal is aborted', { timeout: 20_000 }, async () => {
    const file = make('abort.wav', sine(44_100, 2, FREQUENCY, 30));
    const before = new AbortController();
    before.abort(new Error('stopped before'));
    await assert.rejects(wasm(file, {}, { signal: before.signal }), /stopped before/);

    const during = new AbortController();
    let chunks = 0;
    const { req } = request(file, {}, { signal: during.signal });
    req.onLoudness = () => {
      chunks++;
      during.abort(new Error('stopped during'));
    };
    await assert.rejects(decodeWithWasm(req), /stopped during/);
    assert.equal(chunks, 1);
  });
});

describe('Resampler', () => {
  function run(inRate: number, outRate: number, input: Float32Array, sizes: number[]): Float32Array {
    const r = new Resampler(inRate, outRate, 1);
    const parts: Float32Array[] = [];
    let at = 0;
    for (let i = 0; at < input.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, input.length - at);
      parts.push(r.push([input.subarray(at, at + n)], n));
      at += n;
    }
    parts.push(r.flush());
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  const noise = Float32Array.from({ length: 30_001 }, (_, i) => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 0.01));

  for (const [inRate, outRate] of [
    [44_100, 22_050],
    [48_000, 22_050],
    [96_000, 48_000],
    [8_000, 22_050],
    [44_101, 22_050],
  ] as const) {
    it(`${inRate} → ${outRate} Hz: the output does not depend on the block sizes, and has ceil(n·out/in) samples`, () => {
      const whole = run(inRate, outRate, noise, [noise.length]);
      const pieces = run(inRate, outRate, noise, [1, 7, 500, 3, 4_096, 13]);
      assert.equal(whole.length, Math.ceil((noise.length * outRate) / inRate));
      assert.deepEqual(pieces, whole);
    });
  }

  it('passes 1 kHz at unit gain and stops 15 kHz by 80 dB going from 44.1 kHz to 22,050 Hz', () => {
    const tone = (f: number) => Float32Array.from({ length: 44_100 }, (_, i) => Math.sin((2 * Math.PI * f * i) / 44_100));
    const pass = run(44_100, 22_050, tone(1_000), [8_192]);
    assertClose(rms(pass, 2_000, pass.length - 2_000), Math.SQRT1_2, 0.001, '1 kHz RMS');
    const stop = run(44_100, 22_050, tone(15_000), [8_192]);
    assert.ok(db(rms(stop, 2_000, stop.length - 2_000) / Math.SQRT1_2) < -80, 'the 15 kHz tone leaks through');
  });

  it('interleaves two channels', () => {
    const r = new Resampler(96_000, 48_000, 2);
    const left = new Float32Array(9_600).fill(1);
    const right = new Float32Array(9_600).fill(-0.5);
    const out = r.push([left, right], 9_600);
    assert.ok(out.length > 9_000 && out.length % 2 === 0);
    assertClose(out[4_000]!, 1, 1e-4, 'left');
    assertClose(out[4_001]!, -0.5, 1e-4, 'right');
  });
});

/** deterministic pseudo-random bytes (no MPEG, FLAC or Ogg signature is planted on purpose) */
function randomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2_654_435_761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
