import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dbtp,
  energyToLufs,
  integratedFromBlocks,
  K_WEIGHTING_PROTOTYPES,
  kWeightingCoefficients,
  LoudnessMeter,
  replayGainTrackGain,
  type LoudnessResult,
} from '../../src/services/analysis/loudness.js';

interface Fixture {
  name: string;
  /** the generator: a sox `synth` effect chain, or an ffmpeg aevalsrc expression (channels split by |) */
  sox?: string[];
  aevalsrc?: string;
  rate: number;
  channels: number;
  seconds: number;
}

// A "music-like" 8 s pattern: 3 s of a chord with noise bursts every 0.5 s (drums), 1 s of digital
// silence, 2.5 s of a quiet (about −30 dB) chord, 1.5 s of silence. The silences exercise the
// absolute gate, the quiet section the relative gate.
const CHORD = '0.22*sin(2*PI*110*t)+0.14*sin(2*PI*220*t)+0.1*sin(2*PI*331*t)+0.07*sin(2*PI*554*t)+0.05*sin(2*PI*1661*t)';
const BURSTS = '0.35*(2*random(0)-1)*lt(mod(t,0.5),0.06)';
const QUIET = '0.02*sin(2*PI*440*t)+0.012*sin(2*PI*660*t)';
const music = (chord: string, bursts: string): string => `lt(mod(t,8),3)*(${chord}+${bursts})+gte(mod(t,8),4)*lt(mod(t,8),6.5)*(${QUIET})`;
const MUSIC_LEFT = music(CHORD, BURSTS);
const MUSIC_RIGHT = music(CHORD.replaceAll('sin(', 'cos(').replace('0.22', '0.15'), '0.3*(2*random(1)-1)*lt(mod(t+0.25,0.5),0.04)');

const FIXTURES: Fixture[] = [
  { name: 'sine1k-20dB-mono-48k', sox: ['sine', '1000', 'gain', '-20'], rate: 48_000, channels: 1, seconds: 20 },
  { name: 'sine1k-30dB-mono-44k', sox: ['sine', '1000', 'gain', '-30'], rate: 44_100, channels: 1, seconds: 20 },
  { name: 'sine1k-20dB-stereo-44k', sox: ['sine', '1000', 'gain', '-20'], rate: 44_100, channels: 2, seconds: 15 },
  { name: 'sine1k-30dB-stereo-48k', sox: ['sine', '1000', 'gain', '-30'], rate: 48_000, channels: 2, seconds: 15 },
  { name: 'white-12dB-stereo-48k', sox: ['whitenoise', 'gain', '-12'], rate: 48_000, channels: 2, seconds: 15 },
  { name: 'white-30dB-mono-44k', sox: ['whitenoise', 'gain', '-30'], rate: 44_100, channels: 1, seconds: 15 },
  { name: 'pink-10dB-stereo-44k', sox: ['pinknoise', 'gain', '-10'], rate: 44_100, channels: 2, seconds: 15 },
  { name: 'pink-28dB-mono-48k', sox: ['pinknoise', 'gain', '-28'], rate: 48_000, channels: 1, seconds: 15 },
  { name: 'pink-16dB-mono-22k', sox: ['pinknoise', 'gain', '-16'], rate: 22_050, channels: 1, seconds: 15 },
  { name: 'music-mono-44k', aevalsrc: MUSIC_LEFT, rate: 44_100, channels: 1, seconds: 24 },
  { name: 'music-stereo-48k', aevalsrc: `${MUSIC_LEFT}|${MUSIC_RIGHT}`, rate: 48_000, channels: 2, seconds: 24 },
  { name: 'music-stereo-44k', aevalsrc: `${MUSIC_LEFT}|${MUSIC_RIGHT}`, rate: 44_100, channels: 2, seconds: 30 },
  // EBU Tech 3341 test signals 1 and 2: stereo 1 kHz sine at −23 / −33 dBFS (peak) per channel
  { name: 'ebu-sine1k-23dB-stereo-48k', sox: ['sine', '1000', 'gain', '-23'], rate: 48_000, channels: 2, seconds: 20 },
  { name: 'ebu-sine1k-23dB-stereo-44k', sox: ['sine', '1000', 'gain', '-23'], rate: 44_100, channels: 2, seconds: 20 },
  { name: 'ebu-sine1k-33dB-stereo-48k', sox: ['sine', '1000', 'gain', '-33'], rate: 48_000, channels: 2, seconds: 20 },
];

interface FfmpegSummary {
  integrated: number;
  lra: number;
  truePeakDb: number;
}

function generate(dir: string, f: Fixture): string {
  const file = path.join(dir, `${f.name}.wav`);
  if (f.sox) {
    // -R: repeatable noise, so every run measures the same files
    execFileSync('sox', ['-R', '-n', '-r', String(f.rate), '-c', String(f.channels), '-b', '24', file, 'synth', String(f.seconds), ...f.sox]);
  } else {
    const graph = `aevalsrc=exprs='${f.aevalsrc}':s=${f.rate}:d=${f.seconds}`;
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', graph, '-c:a', 'pcm_s24le', file]);
  }
  return file;
}

function probe(file: string): { rate: number; channels: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=sample_rate,channels', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const [rate, channels] = out.trim().split(',').map(Number);
  return { rate: rate ?? 0, channels: channels ?? 0 };
}

/** decodes at the file's own rate and channel count, interleaved float */
function decode(file: string): Float32Array {
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'f32le', '-c:a', 'pcm_f32le', '-'], { maxBuffer: 1 << 30 });
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function ffmpegEbur128(file: string): FfmpegSummary {
  // the summary goes to stderr, after the per-100 ms lines
  const run = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-af', 'ebur128=peak=true', '-f', 'null', '-'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, run.stderr);
  const stderr = run.stderr;
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const num = (re: RegExp): number => {
    const m = re.exec(summary);
    assert.ok(m?.[1], `no ${re} in ffmpeg summary:\n${summary}`);
    return m[1] === '-inf' ? -Infinity : Number(m[1]);
  };
  return { integrated: num(/I:\s+(-?[\d.]+) LUFS/), lra: num(/LRA:\s+(-?[\d.]+) LU/), truePeakDb: num(/Peak:\s+(-inf|-?[\d.]+) dBFS/) };
}

function measure(samples: Float32Array, rate: number, channels: number, chunk?: number): LoudnessMeter {
  const meter = new LoudnessMeter(rate, channels);
  if (chunk === undefined) meter.push(samples);
  else for (let i = 0; i < samples.length; i += chunk) meter.push(samples.subarray(i, i + chunk));
  return meter;
}

const fmt = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? 'null' : v.toFixed(digits));

describe('K-weighting coefficients', () => {
  it('reproduces the BS.1770-4 48 kHz table from the recovered analog prototypes', () => {
    const [pre, rlb] = kWeightingCoefficients(48_000);
    const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    close(pre.b0, 1.53512485958697);
    close(pre.b1, -2.69169618940638);
    close(pre.b2, 1.19839281085285);
    close(pre.a1, -1.69065929318241);
    close(pre.a2, 0.73248077421585);
    close(rlb.b0, 1);
    close(rlb.b1, -2);
    close(rlb.b2, 1);
    close(rlb.a1, -1.99004745483398);
    close(rlb.a2, 0.99007225036621);
  });

  it('recovers a ~1682 Hz +4 dB shelf and a ~38 Hz high-pass', () => {
    const [shelf, highPass] = K_WEIGHTING_PROTOTYPES;
    assert.ok(Math.abs(shelf.f0 - 1681.97) < 0.01, String(shelf.f0));
    assert.ok(Math.abs(20 * Math.log10(shelf.n2) - 4) < 0.01, String(shelf.n2));
    assert.ok(Math.abs(shelf.n0 - 1) < 1e-9);
    assert.ok(Math.abs(highPass.f0 - 38.135) < 0.01, String(highPass.f0));
    assert.ok(Math.abs(highPass.q - 0.5003) < 1e-4, String(highPass.q));
  });
});

describe('LoudnessMeter against ffmpeg ebur128', () => {
  let dir: string;
  const files = new Map<string, string>();

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soniquebay-loudness-'));
    for (const f of FIXTURES) files.set(f.name, generate(dir, f));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('agrees within 0.5 LU (integrated) and 0.5 dB (true peak) on every file', () => {
    const rows: Record<string, string>[] = [];
    const failures: string[] = [];
    for (const f of FIXTURES) {
      const file = files.get(f.name) as string;
      const { rate, channels } = probe(file);
      assert.equal(rate, f.rate);
      assert.equal(channels, f.channels);
      const started = performance.now();
      const ours = measure(decode(file), rate, channels).result();
      const ms = performance.now() - started;
      const ref = ffmpegEbur128(file);
      const dI = (ours.integratedLufs ?? -Infinity) - ref.integrated;
      const dTp = dbtp(ours.truePeak) - ref.truePeakDb;
      rows.push({
        file: f.name,
        'I ours': fmt(ours.integratedLufs),
        'I ffmpeg': fmt(ref.integrated, 1),
        'ΔI': fmt(dI),
        'TP ours dBTP': fmt(dbtp(ours.truePeak)),
        'TP ffmpeg': fmt(ref.truePeakDb, 1),
        'ΔTP': fmt(dTp),
        'LRA ours': fmt(ours.loudnessRange, 1),
        'LRA ffmpeg': fmt(ref.lra, 1),
        'ms (decode+meter)': ms.toFixed(0),
      });
      if (!(Math.abs(dI) <= 0.5)) failures.push(`${f.name}: integrated ${fmt(ours.integratedLufs)} vs ffmpeg ${ref.integrated}`);
      if (!(Math.abs(dTp) <= 0.5)) failures.push(`${f.name}: true peak ${fmt(dbtp(ours.truePeak))} vs ffmpeg ${ref.truePeakDb}`);
    }
    console.table(rows);
    assert.deepEqual(failures, []);
  });

  it('meets the EBU Tech 3341 reference: stereo 1 kHz at −23 dBFS per channel reads −23.0 LUFS', () => {
    // per channel the mean square of a sine of peak A is A²/2 (−26.01 dB at A = −23 dBFS); two
    // channels of weight 1 add 3.01 dB; K-weighting gains +0.69 dB at 1 kHz, which the −0.691
    // offset cancels: −26.01 + 3.01 + 0.69 − 0.691 = −23.0 LUFS
    for (const [name, expected] of [
      ['ebu-sine1k-23dB-stereo-48k', -23],
      ['ebu-sine1k-23dB-stereo-44k', -23],
      ['ebu-sine1k-33dB-stereo-48k', -33],
    ] as const) {
      const file = files.get(name) as string;
      const { rate, channels } = probe(file);
      const r = measure(decode(file), rate, channels).result();
      assert.ok(r.integratedLufs !== null && Math.abs(r.integratedLufs - expected) <= 0.1, `${name}: ${r.integratedLufs}`);
      assert.ok(Math.abs(dbtp(r.samplePeak) - expected) <= 0.1, `${name}: sample peak ${dbtp(r.samplePeak)}`);
      assert.ok(Math.abs(dbtp(r.truePeak) - expected) <= 0.1, `${name}: true peak ${dbtp(r.truePeak)}`);
      assert.ok(r.loudnessRange !== undefined && r.loudnessRange < 0.1, `${name}: LRA ${r.loudnessRange}`);
      assert.equal(replayGainTrackGain(r.integratedLufs) + r.integratedLufs, -18);
    }
    // the mono −20 dBFS sine: −20 − 3.01 (one channel) = −23.0 LUFS as well
    const file = files.get('sine1k-20dB-mono-48k') as string;
    const mono = measure(decode(file), 48_000, 1).result();
    assert.ok(mono.integratedLufs !== null && Math.abs(mono.integratedLufs + 23.01) <= 0.1, String(mono.integratedLufs));
  });

  it('gives the same answer whether fed whole or in chunks (including partial frames)', () => {
    const file = files.get('music-stereo-44k') as string;
    const samples = decode(file);
    const whole = measure(samples, 44_100, 2);
    const expected = whole.result();
    // 2 and 46: one and 23 frames a push, under the true-peak filter's history of taps − 1 inputs
    for (const chunk of [1000, 999, 4410 * 2, 2, 46]) {
      const chunked = measure(samples, 44_100, 2, chunk);
      const got: LoudnessResult = chunked.result();
      assert.ok(got.integratedLufs !== null && expected.integratedLufs !== null);
      assert.ok(Math.abs(got.integratedLufs - expected.integratedLufs) < 1e-9, `chunk ${chunk}: ${got.integratedLufs} vs ${expected.integratedLufs}`);
      assert.equal(got.samplePeak, expected.samplePeak);
      assert.equal(got.truePeak, expected.truePeak);
      assert.ok(Math.abs((got.loudnessRange ?? NaN) - (expected.loudnessRange ?? NaN)) < 1e-9);
      const a = chunked.blocks();
      const b = whole.blocks();
      assert.equal(a.length, b.length);
      // (digital silence may leave ~1e-57 where the filter state was flushed at another point:
      // far under the −70 LUFS gate's 1e-7)
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= 1e-12 * (b[i] as number) + 1e-40, `chunk ${chunk} block ${i}: ${a[i]} vs ${b[i]}`);
    }
    // 30 s: a block starts every 100 ms while a whole 400 ms block fits
    assert.equal(whole.blocks().length, 297);
  });

  it('combines tracks into an album loudness from their gating blocks', () => {
    const loud = measure(decode(files.get('sine1k-20dB-mono-48k') as string), 48_000, 1);
    const quiet = measure(decode(files.get('sine1k-30dB-mono-44k') as string), 44_100, 1);
    const l = loud.result().integratedLufs as number;
    const q = quiet.result().integratedLufs as number;
    assert.ok(Math.abs((integratedFromBlocks([loud.blocks(), loud.blocks()]) as number) - l) < 1e-9);
    // both 20 s: the −30 track is within 10 LU of the blocks' mean, so the album is the energy mean
    const album = integratedFromBlocks([loud.blocks(), quiet.blocks()]) as number;
    const mean = (Math.pow(10, (l + 0.691) / 10) + Math.pow(10, (q + 0.691) / 10)) / 2;
    assert.ok(Math.abs(album - energyToLufs(mean)) < 0.01, `${album} vs ${energyToLufs(mean)}`);
    assert.ok(album < l && album > q);
    assert.equal(integratedFromBlocks([]), null);
  });
});

describe('LoudnessMeter edge cases', () => {
  it('reports null for silence and for less than one 400 ms block', () => {
    const silent = new LoudnessMeter(48_000, 2);
    silent.push(new Float32Array(48_000 * 2 * 5));
    const r = silent.result();
    assert.equal(r.integratedLufs, null);
    assert.equal(r.samplePeak, 0);
    assert.equal(r.truePeak, 0);
    assert.equal(r.loudnessRange, 0);

    const short = new LoudnessMeter(44_100, 1);
    short.push(Float32Array.from({ length: 44_100 * 0.35 }, (_, i) => 0.5 * Math.sin(i / 7)));
    assert.equal(short.result().integratedLufs, null);
    assert.equal(short.result().loudnessRange, undefined);
    assert.equal(short.blocks().length, 0);

    const nothing = new LoudnessMeter(44_100, 2).result();
    assert.deepEqual(nothing, { integratedLufs: null, samplePeak: 0, truePeak: 0 });
  });

  it('finds an inter-sample peak above the sample peak', () => {
    // fs/4 sine at 45° phase: every sample sits at ±0.707 of the true amplitude (+3 dB over)
    // (faded in and out over 0.1 s so that the abrupt ends do not ring over the peak)
    const x = Float32Array.from({ length: 48_000 }, (_, i) => Math.min(1, i / 4800, (47_999 - i) / 4800) * 0.5 * Math.sin((Math.PI / 2) * i + Math.PI / 4));
    const r = measure(x, 48_000, 1).result();
    assert.ok(Math.abs(dbtp(r.samplePeak) - dbtp(0.5 * Math.SQRT1_2)) < 0.01);
    assert.ok(Math.abs(dbtp(r.truePeak) - dbtp(0.5)) < 0.1, `true peak ${dbtp(r.truePeak)} dBTP`);
  });

  it('computes ReplayGain 2.0 track gain against −18 LUFS', () => {
    assert.equal(replayGainTrackGain(-23), 5);
    assert.equal(replayGainTrackGain(-8.5), -9.5);
  });
});
