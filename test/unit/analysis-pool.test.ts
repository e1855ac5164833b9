import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyseFile, analysisExcerpt, EXCERPT_SECONDS, EXCERPT_WINDOWS, excerptWindows } from '../../src/services/analysis/analyse_file.js';
import { ANALYSIS_RATE, DecodeError, decodeForAnalysis, type ExcerptWindow } from '../../src/services/analysis/decode.js';
import { AnalysisPool } from '../../src/services/analysis/pool.js';
import { CORPUS } from '../helpers/corpus-pictures.js';

const hint = { sampleRate: 44_100, channels: 2, seconds: null };
/** the pipe hands the meter chunks of varying sizes, so sums may differ in their last digits */
const rounded = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(9)) : v)));

describe('analysis pool (worker threads)', () => {
  let dir: string;
  let short: string;
  let long: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pool-'));
    short = path.join(dir, 'short.flac');
    long = path.join(dir, 'long.flac');
    // a 2 Hz pulse over a tone: something for tempo, key and loudness to measure
    const source = (seconds: number) => `sine=f=220:d=${seconds}:r=44100,volume='0.3+0.5*lt(mod(t,0.5),0.08)':eval=frame`;
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', source(12), '-ac', '2', short]);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', source(400), '-ac', '2', long]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives in a thread exactly what the analysis gives in-process, several tracks at a time', async () => {
    const pool = new AnalysisPool(2);
    try {
      const expected = await analyseFile(short, hint);
      const results = await Promise.all([1, 2, 3].map(() => pool.analyse(short, hint)));
      for (const r of results) assert.deepEqual(rounded(r), rounded(expected));
      assert.ok(expected.loudness.integratedLufs !== null && expected.seconds > 11.9);
    } finally {
      await pool.close();
    }
  });

  it('runs the analysis and its decoder below the worker\'s priority, leaving the main thread alone (Linux)', { skip: process.platform !== 'linux' && 'nice is per thread on Linux only' }, async () => {
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19
    const ppidOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]); // field 4
    const parentOf = (stat: string | number) => ppidOf(typeof stat === 'string' ? stat : fs.readFileSync(`/proc/${stat}/stat`, 'utf8'));
    const mainNice = os.getPriority(0);
    const pool = new AnalysisPool(1);
    const decoders = new Set<number>();
    let threadNice: number | undefined;
    try {
      const running = pool.analyse(long, hint);
      let done = false;
      void running.finally(() => (done = true));
      while (!done) {
        for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
            const decodesIt = stat.includes('(ffmpeg)') && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(long);
            // started by the thread's launcher shell (ffmpeg_launcher.ts), a child of this process
            if (decodesIt && parentOf(parentOf(stat)) === process.pid) decoders.add(niceOf(stat));
          } catch {
            // gone meanwhile
          }
        }
        for (const tid of fs.readdirSync('/proc/self/task')) {
          const nice = niceOf(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
          if (nice > mainNice) threadNice = nice;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await running;
    } finally {
      await pool.close();
    }
    assert.equal(os.getPriority(0), mainNice, 'the main thread keeps its priority');
    assert.ok(threadNice !== undefined && threadNice >= mainNice + 1, `an analysis thread runs niced (seen: ${threadNice})`);
    assert.deepEqual([...decoders], [threadNice], 'its ffmpeg runs at the thread\'s nice value');
  });

  it('analyses with the WASM decoders when ffmpeg is not on PATH, to the same results', async () => {
    const expected = await analyseFile(short, hint);
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent'; // the threads copy the environment when they start
    const pool = new AnalysisPool(1);
    try {
      const result = await pool.analyse(short, hint);
      process.env.PATH = saved;
      assert.equal(expected.decoder, 'ffmpeg');
      assert.equal(result.decoder, 'wasm');
      assert.ok(Math.abs(result.loudness.integratedLufs! - expected.loudness.integratedLufs!) < 0.1, `${result.loudness.integratedLufs} vs ${expected.loudness.integratedLufs}`);
      assert.ok(Math.abs(result.seconds - expected.seconds) < 0.05);
      assert.equal(result.key.key, expected.key.key);
    } finally {
      process.env.PATH = saved;
      await pool.close();
    }
  });

  it('hands a decoding failure back as a DecodeError with its reason, and goes on', async () => {
    const pool = new AnalysisPool(1);
    try {
      const bad = path.join(dir, 'bad.flac');
      fs.writeFileSync(bad, 'not audio at all');
      await assert.rejects(pool.analyse(bad, hint), (err: unknown) => err instanceof DecodeError && /could not decode/.test(err.message));
      assert.ok((await pool.analyse(short, hint)).seconds > 11.9);
    } finally {
      await pool.close();
    }
  });

  it('stops a running analysis when its job is aborted, and the next one still runs', async () => {
    const pool = new AnalysisPool(1);
    try {
      const controller = new AbortController();
      const started = Date.now();
      const running = pool.analyse(long, hint, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('job timed out')), 30);
      await assert.rejects(running, /job timed out/);
      assert.ok(Date.now() - started < 1_000, 'the abort answers at once');
      assert.ok((await pool.analyse(short, hint)).seconds > 11.9);
    } finally {
      await pool.close();
    }
  });

  it('fails what is still waiting when the pool closes', async () => {
    const pool = new AnalysisPool(1);
    const first = assert.rejects(pool.analyse(long, hint), /pool is closed/);
    const second = assert.rejects(pool.analyse(short, hint), /pool is closed/);
    await pool.close();
    await Promise.all([first, second]);
    await assert.rejects(pool.analyse(short, hint), /pool is closed/);
  });
});

describe('analysis excerpt', () => {
  it('takes windows from the start, the middle and the very end of a long track', () => {
    const rate = 100;
    const ramp = Float32Array.from({ length: 600 * rate }, (_, i) => i);
    const excerpt = analysisExcerpt(ramp, rate);
    const window = EXCERPT_SECONDS * rate;
    assert.equal(excerpt.length, EXCERPT_WINDOWS * window);
    assert.equal(excerpt[0], 0);
    assert.equal(excerpt[excerpt.length - 1], ramp.length - 1);
    assert.equal(excerpt[window], Math.round((ramp.length - window) / (EXCERPT_WINDOWS - 1)));
  });

  it('keeps a short track whole', () => {
    const short = new Float32Array(EXCERPT_WINDOWS * EXCERPT_SECONDS * 100 * 1.2);
    assert.equal(analysisExcerpt(short, 100), short);
  });
});

describe('analysis excerpt, cut by ffmpeg', () => {
  const SECONDS = 150;
  let dir: string;
  let file: string;
  const tagged = { sampleRate: 44_100, channels: 2, seconds: SECONDS, bitDepth: 16 };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-excerpt-'));
    file = path.join(dir, 'sweep.flac');
    // a slow sweep (every second sounds different) with a 2 Hz low thump: music enough for every stage
    const wave = '0.3*sin(2*PI*(220+2*t)*t)+0.3*lt(mod(t\\,0.5)\\,0.05)*sin(2*PI*60*t)';
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `aevalsrc=${wave}|${wave}:s=44100:d=${SECONDS}`, '-sample_fmt', 's16', file]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const decode = (excerpt?: ExcerptWindow[]) =>
    decodeForAnalysis({ file, hint: tagged, maxSeconds: 600, ...(excerpt ? { excerpt } : {}), onLoudnessFormat: () => {}, onLoudness: () => {} }, 'ffmpeg');

  it('resamples only the windows: the same samples as cutting them from the whole stream', async () => {
    const windows = excerptWindows(SECONDS * ANALYSIS_RATE, ANALYSIS_RATE)!;
    const [cut, whole] = [await decode(windows), await decode()];
    assert.deepEqual([cut.excerpted, whole.excerpted], [true, false]);
    assert.ok(Math.abs(cut.seconds - SECONDS) < 0.01 && cut.seconds === whole.seconds, `${cut.seconds} s, ${whole.seconds} s`);
    const reference = analysisExcerpt(whole.mono, ANALYSIS_RATE);
    assert.ok(Math.abs(cut.mono.length - reference.length) <= 3, `${cut.mono.length} samples against ${reference.length}`);
    // away from each window's edges, where the resampler's filter starts afresh, they agree
    let at = 0;
    for (const w of windows) {
      let worst = 0;
      for (let i = at + 200; i < at + w.length - 200; i++) worst = Math.max(worst, Math.abs(cut.mono[i]! - reference[i]!));
      assert.ok(worst < 1e-4, `window at ${w.start}: samples differ by up to ${worst}`);
      at += w.length;
    }
  });

  it('decodes again when the file is not as long as its tags say, placing the windows on what it holds', async () => {
    // the second decode keeps the whole stream, as a file without a tagged duration does
    const untagged = await analyseFile(file, { ...tagged, seconds: null });
    assert.equal(untagged.excerptSeconds, EXCERPT_WINDOWS * EXCERPT_SECONDS);
    for (const seconds of [200, 100]) assert.deepEqual(rounded(await analyseFile(file, { ...tagged, seconds })), rounded(untagged));
  });

  it('refuses a file too short to give one sample at the analysis rate, as before the cut (tag-library samples)', async () => {
    // AIFF test files of 9 frames at 8 kHz: 1.1 ms
    for (const name of ['Fnonull.aif', 'Ptjunk.aif']) {
      await assert.rejects(analyseFile(path.join(CORPUS, 'aiff', name), { sampleRate: 8_000, channels: 1, seconds: 0.001125, bitDepth: 16 }), /the file holds no audio samples/);
    }
  });

  it('finds the same tempo, key and loudness as from the whole stream', async () => {
    const [cut, whole] = [await analyseFile(file, tagged), await analyseFile(file, { ...tagged, seconds: null })];
    assert.ok(Math.abs(cut.tempo.bpm! - whole.tempo.bpm!) < 0.01 * whole.tempo.bpm!, `${cut.tempo.bpm} against ${whole.tempo.bpm} BPM`);
    assert.deepEqual([cut.key.key, cut.key.scale], [whole.key.key, whole.key.scale]);
    assert.deepEqual(rounded(cut.loudness), rounded(whole.loudness));
    assert.equal(cut.excerptSeconds, whole.excerptSeconds);
  });
});
