// bench:analysis — audio analysis (metadata.analyze_audio_batch: ffmpeg decode → loudness at 48 kHz,
// tempo, key, chroma and spectral features on mono 22,050 Hz) on full-length tracks:
//   (a) seconds per track of the real task on one track at a time (the exported handler, database
//       write included), against a plain `ffmpeg -i f -ac 1 -ar 22050 -f f32le -` of the same file
//       drained from a pipe, alternating per track (target: ours <= 2x the decode), plus a per-stage
//       breakdown of where a track's time goes (the same calls the task makes, timed one by one);
//   (b) tracks/s through the real queue: a child process opens an embedded runtime, scans the library
//       (queues scan/extract/batch), then times the 'metadata' queue with concurrency 2 until it is
//       empty (two library roots of 10 tracks, so the scan queues two analysis jobs that run side by
//       side, as the jobs of a large library do) (target >= 3 tracks/s on 2 cores);
//       Reported twice: cold (the whole timed run, including the analysis threads' start and V8's
//       warm-up on their first tracks) and steady (tracks finished after each thread's first track,
//       over the time from the CONCURRENCY-th finish to the last: what a large library sees);
//   (c) the peak RSS of that child during (b): VmHWM from /proc/self/status, reset (clear_refs) after
//       the scan, so it covers the timed part only; also polled from the parent as a cross-check.
//
// Test material: BENCH_TRACKS (20) stereo 44.1 kHz 16-bit FLAC tracks of BENCH_SECONDS (240) s that
// sound like music (kick/snare/hi-hats, a chord progression, a bass line and a noise bed; each track
// its own tempo and key), synthesised here and cached under os.tmpdir()/soniquebay-bench/analysis-*/.
// Data dirs go in a temp dir removed at the end; the cached library stays.
//   npm run bench:analysis   (BENCH_TRACKS=20, BENCH_SECONDS=240, BENCH_RUNS=3, BENCH_BREAKDOWN=5)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { ANALYSIS_RATE, decodeForAnalysis } from '../src/services/analysis/decode.js';
import { analysisExcerpt, excerptWindows } from '../src/services/analysis/analyse_file.js';
import { spectralFeatures } from '../src/services/analysis/features.js';
import { keyAndChroma } from '../src/services/analysis/key.js';
import { LoudnessMeter } from '../src/services/analysis/loudness.js';
import { analyseRhythm } from '../src/services/analysis/tempo.js';
import type { TaskContext } from '../src/tasks/define.js';
import { analyzeAudioBatch } from '../src/workers/metadata/audio_analysis.js';
import { getScan } from '../src/workers/scan/sessions.js';
import { intEnv, median } from './helpers.js';

const SELF = fileURLToPath(import.meta.url);
const TRACKS = intEnv('BENCH_TRACKS', 20);
const SECONDS = intEnv('BENCH_SECONDS', 240);
const RUNS = intEnv('BENCH_RUNS', 3);
const BREAKDOWN = Math.min(TRACKS, intEnv('BENCH_BREAKDOWN', 5));
const CONCURRENCY = 2; // two analyses at a time, as the brief's production setting (set explicitly, not from the core count)
const ROOTS = 2;
const RATE = 44_100;
const CACHE = path.join(os.tmpdir(), 'soniquebay-bench', `analysis-${TRACKS}x${SECONDS}s-v1`);

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// test material

interface TrackSpec {
  file: string;
  bpm: number;
  key: string;
  scale: 'major' | 'minor';
}

const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const BPMS = [92, 100, 108, 115, 120, 124, 128, 132, 140, 150, 86, 96, 104, 112, 118, 126, 135, 145, 160, 98];

function specFor(i: number): Omit<TrackSpec, 'file'> {
  return { bpm: BPMS[i % BPMS.length]!, key: NOTE_NAMES[(i * 7) % 12]!, scale: i % 2 === 0 ? 'major' : 'minor' };
}

/** one period of a soft saw (harmonics 1/h, rolled off), for cheap oscillators */
const WAVE_SIZE = 4096;
const WAVE = (() => {
  const t = new Float32Array(WAVE_SIZE + 1);
  for (let i = 0; i <= WAVE_SIZE; i++) {
    let v = 0;
    for (let h = 1; h <= 8; h++) v += (Math.sin((2 * Math.PI * h * i) / WAVE_SIZE) / h) * Math.exp(-h / 6);
    t[i] = v * 0.6;
  }
  return t;
})();

function mtof(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

/** interleaved stereo float: drums + chords + bass + noise, with an intro and a breakdown */
function synthesize(spec: Omit<TrackSpec, 'file'>, seconds: number, seed: number): Float32Array {
  const frames = seconds * RATE;
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  let state = seed >>> 0 || 1;
  const rnd = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const beat = (60 / spec.bpm) * RATE;
  const bar = 4 * beat;
  const root = NOTE_NAMES.indexOf(spec.key);
  // I–V–vi–IV in major, i–VI–III–VII in minor (semitones above the tonic, and the chord's quality)
  const chords: [number, boolean][] = spec.scale === 'major' ? [[0, true], [7, true], [9, false], [5, true]] : [[0, false], [8, true], [3, true], [10, true]];
  const bars = Math.ceil(frames / bar);
  const introBars = 4;
  const breakFrom = Math.floor(bars * 0.55);
  const breakTo = breakFrom + 4;

  // chords and bass, one bar at a time
  for (let b = 0; b < bars; b++) {
    const [degree, major] = chords[b % chords.length]!;
    const tonic = 60 + ((root + degree) % 12);
    const notes = [tonic, tonic + (major ? 4 : 3), tonic + 7, tonic + 12];
    const start = Math.round(b * bar);
    const end = Math.min(frames, Math.round((b + 1) * bar));
    const quiet = b >= breakFrom && b < breakTo ? 0.5 : 1;
    notes.forEach((note, n) => {
      const step = (mtof(note) * WAVE_SIZE) / RATE;
      const pan = 0.35 + (0.3 * n) / (notes.length - 1);
      let phase = (n * 977) % WAVE_SIZE;
      for (let i = start; i < end; i++) {
        const t = (i - start) / RATE;
        const env = Math.min(1, t * 50) * Math.exp(-t * 0.7) * 0.07 * quiet;
        const idx = phase | 0;
        const v = (WAVE[idx]! + (WAVE[idx + 1]! - WAVE[idx]!) * (phase - idx)) * env;
        left[i]! += v * (1 - pan);
        right[i]! += v * pan;
        phase += step;
        if (phase >= WAVE_SIZE) phase -= WAVE_SIZE;
      }
    });
    if (b < introBars) continue;
    // bass: the chord's root two octaves down, one note per beat
    const bassF = mtof(36 + ((root + degree) % 12));
    for (let k = 0; k < 4; k++) {
      const s = Math.round(b * bar + k * beat);
      const e = Math.min(frames, Math.round(s + beat * 0.9));
      for (let i = s; i < e; i++) {
        const t = (i - s) / RATE;
        const v = 0.22 * Math.min(1, t * 200) * Math.exp(-t * 4) * (Math.sin(2 * Math.PI * bassF * t) + 0.3 * Math.sin(4 * Math.PI * bassF * t));
        left[i]! += v;
        right[i]! += v;
      }
    }
  }

  // drums (none in the intro, kick only in the breakdown)
  const beats = Math.ceil(frames / beat);
  for (let k = introBars * 4; k < beats; k++) {
    const at = Math.round(k * beat);
    const inBreak = k >= breakFrom * 4 && k < breakTo * 4;
    for (let i = 0; i < 0.25 * RATE && at + i < frames; i++) {
      const t = i / RATE;
      const v = 0.55 * Math.sin(2 * Math.PI * (48 + 110 * Math.exp(-t * 35)) * t) * Math.exp(-t * 14);
      left[at + i]! += v;
      right[at + i]! += v;
    }
    if (inBreak) continue;
    if (k % 2 === 1) {
      for (let i = 0; i < 0.18 * RATE && at + i < frames; i++) {
        const t = i / RATE;
        const v = (0.25 * rnd() + 0.12 * Math.sin(2 * Math.PI * 190 * t)) * Math.exp(-t * 22);
        left[at + i]! += v;
        right[at + i]! += v * 0.9;
      }
    }
    for (let h = 0; h < 2; h++) {
      const off = Math.round(at + (h * beat) / 2);
      let prev = 0;
      const amp = h === 1 ? 0.12 : 0.07;
      for (let i = 0; i < 0.05 * RATE && off + i < frames; i++) {
        const n = rnd();
        const v = amp * (n - prev) * Math.exp(-(i / RATE) * 90); // differenced noise: bright
        prev = n;
        left[off + i]! += v * (h === 1 ? 0.7 : 1.1);
        right[off + i]! += v * (h === 1 ? 1.1 : 0.7);
      }
    }
  }

  // a soft noise bed (vinyl/room), and a 2 s fade-out
  let lp = 0;
  let rp = 0;
  for (let i = 0; i < frames; i++) {
    lp = 0.97 * lp + 0.03 * rnd();
    rp = 0.97 * rp + 0.03 * rnd();
    left[i]! += 0.02 * lp;
    right[i]! += 0.02 * rp;
  }
  const fade = 2 * RATE;
  const out = new Float32Array(frames * 2);
  let peak = 0;
  for (let i = 0; i < frames; i++) peak = Math.max(peak, Math.abs(left[i]!), Math.abs(right[i]!));
  const gain = 0.89 / peak;
  for (let i = 0; i < frames; i++) {
    const g = gain * Math.min(1, (frames - 1 - i) / fade);
    out[2 * i] = left[i]! * g;
    out[2 * i + 1] = right[i]! * g;
  }
  return out;
}

async function encodeFlac(samples: Float32Array, file: string, tags: Record<string, string>): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  const child = spawn('ffmpeg', ['-v', 'error', '-y', '-f', 'f32le', '-ar', String(RATE), '-ac', '2', '-i', 'pipe:0', ...meta, '-c:a', 'flac', '-sample_fmt', 's16', file], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg flac encode exited ${code}`))));
  });
  child.stdin!.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  await done;
}

/** the library: ROOTS roots (a, b, …), each with its share of the tracks in albums of 5 */
async function library(): Promise<{ roots: string[]; tracks: TrackSpec[] }> {
  const manifest = path.join(CACHE, '.fixtures.json');
  if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')) as { roots: string[]; tracks: TrackSpec[] };
  fs.rmSync(CACHE, { recursive: true, force: true });
  const started = performance.now();
  const roots = Array.from({ length: ROOTS }, (_, r) => path.join(CACHE, String.fromCharCode(97 + r)));
  const perRoot = Math.ceil(TRACKS / ROOTS);
  const tracks: TrackSpec[] = [];
  for (let i = 0; i < TRACKS; i++) {
    const spec = specFor(i);
    const album = Math.floor(i / 5);
    const file = path.join(roots[Math.floor(i / perRoot)]!, `Bench Artist ${album % 3}`, `Bench Album ${album}`, `${String((i % 5) + 1).padStart(2, '0')} - Track ${i}.flac`);
    await encodeFlac(synthesize(spec, SECONDS, 1000 + i), file, { title: `Track ${i} (${spec.bpm} BPM, ${spec.key} ${spec.scale})`, artist: `Bench Artist ${album % 3}`, album: `Bench Album ${album}`, track: String((i % 5) + 1) });
    tracks.push({ file, ...spec });
    process.stdout.write(`\r  generating test material: ${i + 1}/${TRACKS}`);
  }
  process.stdout.write(`, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const result = { roots, tracks };
  fs.writeFileSync(manifest, JSON.stringify(result, null, 2));
  return result;
}

// ---------------------------------------------------------------------------------------------
// helpers shared by the parent and the child

const silent = pino({ level: 'silent' });

async function openScanned(roots: string[], dataDir: string): Promise<Runtime> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  const runtime = await openRuntime({ ...loadConfig({}), dataDir, outsideLookups: false, logLevel: 'silent' }, silent);
  const worker = await runtime.broker.startWorker({ queues: ['scan', 'extract', 'batch'] });
  for (const root of roots) {
    const scanId = crypto.randomUUID();
    await runtime.broker.enqueue('scan.discovery', { root, scanId });
    for (;;) {
      const scan = await getScan(runtime.database.db, scanId);
      if (scan && scan.status !== 'running') {
        if (scan.status !== 'completed') throw new Error(`scan of ${root}: ${scan.status} ${scan.last_error ?? ''}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await worker.close();
  return runtime;
}

/**
 * CPU seconds (user + system) of this process's direct children and the children they have reaped:
 * the analysis decoder's launcher shells and the ffmpeg processes they ran.
 */
function childrenCpuSeconds(): number {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let children: string[] = [];
    try {
      children = fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of children) {
      try {
        // after the command name (in parentheses): fields 14-17 are utime, stime, cutime, cstime
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / tick;
      } catch {
        // the child ended in between
      }
    }
  }
  return total;
}

function procStatusKib(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// (b) + (c): the child

interface QueueResult {
  tracks: number;
  seconds: number;
  /** tracks/s after each thread's first track */
  steady: number;
  analysed: number;
  peakRssKib: number;
  hwmReset: boolean;
  rssBeforeKib: number;
  /** CPU seconds over the timed run: the worker process (all its threads), and the decoders it started */
  workerCpu: number;
  decoderCpu: number;
}

async function queueChild(roots: string[], dataDir: string): Promise<void> {
  const runtime = await openScanned(roots, dataDir);
  try {
    const { db } = runtime.database;
    const tracks = Number((await db.selectFrom('tracks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    // the peak from here on only: writing 5 to clear_refs resets VmHWM to the current RSS
    let hwmReset = true;
    try {
      fs.writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      hwmReset = false;
    }
    const rssBeforeKib = procStatusKib('self', 'VmRSS');
    process.stdout.write('TIMING\n'); // tells the parent to start polling
    const startedAt = Date.now();
    const cpuBefore = process.cpuUsage();
    const decoderBefore = childrenCpuSeconds();
    const worker = await runtime.broker.startWorker({ queues: ['metadata'], concurrency: { metadata: CONCURRENCY } });
    for (;;) {
      const c = (await runtime.broker.counts()).metadata!;
      if (c.waiting + c.active + c.delayed === 0) break;
      await new Promise((r) => setTimeout(r, 50)); // (the times are read from analyzed_at)
    }
    const cpu = process.cpuUsage(cpuBefore);
    const workerCpu = (cpu.user + cpu.system) / 1e6;
    const decoderCpu = childrenCpuSeconds() - decoderBefore;
    const peakRssKib = procStatusKib('self', 'VmHWM');
    await worker.close();
    const analysed = Number(
      (await db.selectFrom('track_analysis').select((eb) => eb.fn.countAll().as('n')).where('bpm', 'is not', null).where('lufs', 'is not', null).executeTakeFirstOrThrow()).n,
    );
    const finished = (await db.selectFrom('track_analysis').select('analyzed_at').orderBy('analyzed_at').execute()).map((r) => Number(r.analyzed_at));
    const seconds = (finished[finished.length - 1]! - startedAt) / 1000;
    const warm = finished[CONCURRENCY - 1]!;
    const steady = (finished.length - CONCURRENCY) / ((finished[finished.length - 1]! - warm) / 1000);
    const result: QueueResult = { tracks, seconds, steady, analysed, peakRssKib, hwmReset, rssBeforeKib, workerCpu, decoderCpu };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await runtime.close();
  }
}

/** runs one (b) measurement in a child process; the parent polls its RSS too */
function runQueueChild(roots: string[], dataDir: string): Promise<QueueResult & { polledPeakKib: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF, '--queue-child', dataDir, ...roots], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let polledPeakKib = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!timer && out.includes('TIMING\n')) {
        timer = setInterval(() => {
          const rss = procStatusKib(child.pid!, 'VmRSS');
          if (rss > polledPeakKib) polledPeakKib = rss;
        }, 20);
      }
    });
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`queue child exited ${code}: ${out}`));
      resolve({ ...(JSON.parse(line.slice(7)) as QueueResult), polledPeakKib });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// (a): one track at a time, in this process

/** plain ffmpeg decode to mono 22,050 Hz float, drained from a pipe */
function plainDecode(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-ac', '1', '-ar', '22050', '-f', 'f32le', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0 || bytes === 0) return reject(new Error(`ffmpeg decode of ${file} exited ${code}`));
      resolve((performance.now() - started) / 1000);
    });
  });
}

function taskContext(runtime: Runtime): TaskContext {
  return {
    db: runtime.database.db,
    services: runtime.services,
    log: silent,
    jobId: 'bench',
    taskName: 'metadata.analyze_audio_batch',
    attempt: 1,
    progress: async () => undefined,
    jobs: { counts: () => runtime.broker.counts(), prune: () => runtime.broker.prune() },
    enqueue: (name, payload, options) => runtime.broker.enqueue(name, payload, options),
    signal: new AbortController().signal,
  };
}

interface Breakdown {
  decode: number;
  loudness: number;
  tempo: number;
  key: number;
  features: number;
}

/** the calls analyseFile makes, timed one by one (decode includes the loudness meter fed during it) */
async function breakdown(file: string): Promise<Breakdown> {
  let meter = new LoudnessMeter(44_100, 2);
  let loudness = 0;
  let t = performance.now();
  // as the task asks: the tags' bit depth (16-bit loudness stream) and the excerpt's windows
  const excerptWindowsOfFile = excerptWindows(Math.round(SECONDS * ANALYSIS_RATE), ANALYSIS_RATE);
  const decoded = await decodeForAnalysis({
    file,
    hint: { sampleRate: RATE, channels: 2, seconds: SECONDS, bitDepth: 16 },
    maxSeconds: 600,
    ...(excerptWindowsOfFile ? { excerpt: excerptWindowsOfFile } : {}),
    onLoudnessFormat: (format) => {
      meter = new LoudnessMeter(format.sampleRate, format.channels);
    },
    onLoudness: (chunk) => {
      const s = performance.now();
      meter.push(chunk);
      loudness += performance.now() - s;
    },
  });
  const decode = performance.now() - t - loudness;
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d / 1000;
  };
  t = performance.now();
  const s = performance.now();
  meter.result();
  loudness += performance.now() - s;
  lap();
  const excerpt = decoded.excerpted ? decoded.mono : analysisExcerpt(decoded.mono, ANALYSIS_RATE);
  const { pulse } = analyseRhythm(excerpt, 22_050);
  const tempo = lap();
  keyAndChroma(excerpt, 22_050);
  const key = lap();
  spectralFeatures(excerpt, 22_050, pulse);
  const features = lap();
  return { decode: decode / 1000, loudness: loudness / 1000, tempo, key, features };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load = os.loadavg()[0]!;
  console.log(
    `# bench:analysis  node ${process.version}, ${os.availableParallelism()} CPU(s) (${os.cpus()[0]?.model.trim() ?? '?'}), load ${load.toFixed(2)}; ` +
      `${TRACKS} stereo 44.1 kHz FLAC tracks of ${SECONDS} s, ${RUNS} queue runs at concurrency ${CONCURRENCY}`,
  );
  const { roots, tracks } = await library();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-analysis-'));
  try {
    for (const t of tracks) fs.readFileSync(t.file); // page cache warm for both sides

    // (a) one track at a time, ours and the plain decode alternating (which goes first alternates too)
    const runtime = await openScanned(roots, path.join(work, 'data-a'));
    const ours: number[] = [];
    const plain: number[] = [];
    const found: { bpm: number | null }[] = [];
    try {
      const { db } = runtime.database;
      const rows = await db.selectFrom('tracks').select(['id', 'path']).execute();
      const idOf = new Map(rows.map((r) => [r.path, r.id]));
      const ctx = taskContext(runtime);
      // warm-up (JIT, first ffmpeg spawn): one track each way, not counted
      await plainDecode(tracks[0]!.file);
      await analyzeAudioBatch({ trackIds: [idOf.get(tracks[0]!.file)!] }, ctx);
      for (const [i, track] of tracks.entries()) {
        const id = idOf.get(track.file);
        if (id === undefined) throw new Error(`not scanned: ${track.file}`);
        const timeOurs = async () => {
          const s = performance.now();
          const r = await analyzeAudioBatch({ trackIds: [id] }, ctx);
          if (r.analysed !== 1) throw new Error(`analysis of ${track.file} failed`);
          return (performance.now() - s) / 1000;
        };
        if (i % 2 === 0) {
          plain.push(await plainDecode(track.file));
          ours.push(await timeOurs());
        } else {
          ours.push(await timeOurs());
          plain.push(await plainDecode(track.file));
        }
        const row = await db.selectFrom('track_analysis').select(['bpm']).where('track_id', '=', id).executeTakeFirstOrThrow();
        found.push(row);
      }
    } finally {
      await runtime.close();
    }

    const stages: Breakdown[] = [];
    for (let i = 0; i < BREAKDOWN; i++) stages.push(await breakdown(tracks[i]!.file));

    // (b) + (c) through the queue, each run a fresh child and data dir
    const queue: (QueueResult & { polledPeakKib: number })[] = [];
    for (let run = 0; run < RUNS; run++) {
      const r = await runQueueChild(roots, path.join(work, `data-b${run}`));
      if (r.tracks !== TRACKS || r.analysed !== TRACKS) throw new Error(`queue run ${run + 1}: ${r.analysed}/${r.tracks} tracks analysed, expected ${TRACKS}`);
      queue.push(r);
      console.log(
        `  (b) run ${run + 1}: ${r.tracks} tracks in ${r.seconds.toFixed(2)} s = ${(r.tracks / r.seconds).toFixed(2)} tracks/s cold, ${r.steady.toFixed(2)} steady; ` +
          `CPU-s/track ${((r.workerCpu + r.decoderCpu) / r.tracks).toFixed(3)} (worker ${(r.workerCpu / r.tracks).toFixed(3)}, ffmpeg ${(r.decoderCpu / r.tracks).toFixed(3)}, ${((r.workerCpu + r.decoderCpu) / r.seconds).toFixed(2)} cores busy); ` +
          `peak RSS ${(r.peakRssKib / 1024).toFixed(0)} MiB (VmHWM${r.hwmReset ? ' after reset' : ', whole process'}; polled ${(r.polledPeakKib / 1024).toFixed(0)} MiB; before ${(r.rssBeforeKib / 1024).toFixed(0)} MiB), load ${os.loadavg()[0]!.toFixed(2)}`,
      );
    }

    // report
    const ratios = ours.map((o, i) => o / plain[i]!);
    const ratio = median(ratios);
    const bpmOk = found.filter((f, i) => f.bpm !== null && Math.abs(f.bpm - tracks[i]!.bpm) <= 0.02 * tracks[i]!.bpm).length;
    console.log('');
    console.log(`(a) one track at a time, ${TRACKS} tracks of ${SECONDS} s (median over tracks; total = sum):`);
    console.log(
      table(
        ['', 's/track (median)', 'min', 'max', 'total s', 'x realtime'],
        [
          ['our analysis (analyzeAudioBatch, 1 track)', ours, plain],
          ['plain ffmpeg decode (mono 22,050 Hz f32)', plain, plain],
        ].map(([label, v]) => {
          const values = v as number[];
          return [label as string, median(values).toFixed(3), Math.min(...values).toFixed(3), Math.max(...values).toFixed(3), sum(values).toFixed(2), (SECONDS / median(values)).toFixed(0)];
        }),
      ),
    );
    console.log(`ours / plain decode per track: median ${ratio.toFixed(2)}, min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}; of the totals ${(sum(ours) / sum(plain)).toFixed(2)}`);
    console.log(`sanity: BPM within 2 % of the generated tempo on ${bpmOk}/${TRACKS} tracks`);
    console.log('');
    console.log(`where a track's time goes (the task's calls timed one by one, on the 90 s excerpt as in the task, median of ${BREAKDOWN} tracks; decode overlaps the loudness meter in the task):`);
    const stageNames: [keyof Breakdown, string][] = [
      ['decode', 'ffmpeg decode, both streams (wall, minus meter; the mono stream cut to the excerpt)'],
      ['loudness', 'LoudnessMeter (push + result)'],
      ['tempo', 'excerpt + analyseRhythm (tempo, pulse)'],
      ['key', 'keyAndChroma'],
      ['features', 'spectralFeatures'],
    ];
    console.log(table(['stage', 's/track'], stageNames.map(([k, label]) => [label, median(stages.map((s) => s[k])).toFixed(3)])));
    const rate = median(queue.map((q) => q.tracks / q.seconds));
    const steady = median(queue.map((q) => q.steady));
    const peak = Math.max(...queue.map((q) => q.peakRssKib)) / 1024;
    console.log('');
    console.log(`(b) metadata queue, concurrency ${CONCURRENCY}, ${TRACKS} tracks in ${ROOTS} jobs, after a scan (median of ${RUNS} runs) and (c) peak RSS:`);
    console.log(
      table(
        ['', 'tracks/s cold', 'tracks/s steady', 's/track cold', 'seconds', 'peak RSS MiB (max of runs)'],
        [['metadata queue (analyze_audio_batch)', rate.toFixed(2), steady.toFixed(2), (1 / rate).toFixed(3), median(queue.map((q) => q.seconds)).toFixed(2), peak.toFixed(0)]],
      ),
    );
    console.log(`per run tracks/s: cold ${queue.map((q) => (q.tracks / q.seconds).toFixed(2)).join(', ')}; steady ${queue.map((q) => q.steady.toFixed(2)).join(', ')}`);
    console.log('');
    console.log(
      table(
        ['target', 'result', 'measured'],
        [
          ['(a) our analysis <= 2x the plain decode', ratio <= 2 ? 'MET' : 'NOT MET', `${ratio.toFixed(2)}x (median of per-track ratios)`],
          ['(b) >= 3 tracks/s on 2 cores, 4-min tracks (steady)', steady >= 3 ? 'MET' : 'NOT MET', `${steady.toFixed(2)} tracks/s steady (${rate.toFixed(2)} cold, threads starting)`],
          ['(c) peak RSS during (b)', '(no target)', `${peak.toFixed(0)} MiB`],
        ],
      ),
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--queue-child') {
  const [dataDir, ...roots] = process.argv.slice(3);
  await queueChild(roots, dataDir!);
} else {
  await main();
}
