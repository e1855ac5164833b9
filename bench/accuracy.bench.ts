// bench:accuracy — tempo and key on real music: the set built by scripts/accuracy-set.ts (MIDI from
// Debian packages rendered with fluidsynth + FluidR3 GM to FLAC and MP3, tempo and key truth from the
// MIDI, a tempo-scaled and transposed variant of each piece; one piece in three held out from
// development), analysed by the same call the analysis task makes (analyseFile: ffmpeg decode, the
// excerpt, tempo, key). Prints, per part (development, held-out, all):
//   Acc1   estimated BPM within ±4 % of the truth;
//   Acc2   the same, or within ±4 % of ½, 2, ⅓ or 3 times it (octave errors allowed);
//   key    exact key and mode, on the pieces whose key signature the notes confirm;
//   MIREX  the MIREX key score (1 exact, 0.5 a fifth away, 0.3 relative, 0.2 parallel);
// plus the tempo ranges (< 100, 100–160, > 160 BPM), the median error of the right answers, the figures
// per source of the set (mma's songs, mma's grooves, abcmidi's tunes, other packages' music), and the
// same tempo figures for the peers measured on the same files in the same run, where installed
// (for yourself, not CI):
//   apt-get install mma fluidsynth fluid-soundfont-gm abcmidi ffmpeg   (the set; built once, cached
//                                 under os.tmpdir()/soniquebay-bench/accuracy-v1)
//   apt-get install --no-install-recommends simutrans-data freedink-data liquidwar-data \
//     kobodeluxe-data faust-common chuck-data                          (the set's other packaged music)
//   apt-get install aubio-tools bpm-tools                              (the peers)
// aubio runs as `aubio tempo <file>`; bpm-tools as `bpm -m 60 -x 200` (our range, wider than its
// 84–146 default) on ffmpeg's 44.1 kHz mono float decode.
//   npm run bench:accuracy        (BENCH_PEERS=0 skips the peers; BENCH_VERBOSE=1 lists each miss)
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { buildAccuracySet, type SetEntry } from '../scripts/accuracy-set.js';
import { analyseFile } from '../src/services/analysis/analyse_file.js';
import { LOW_KEY_CONFIDENCE, pitchClass } from '../src/services/analysis/key.js';
import { median } from './helpers.js';

const run = promisify(execFile);
const PEERS = process.env.BENCH_PEERS !== '0';
const VERBOSE = process.env.BENCH_VERBOSE === '1';
const TOLERANCE = 0.04;

interface Result {
  entry: SetEntry;
  bpm: number;
  alternative: number | null;
  key: string;
  scale: string;
  keyConfidence: number;
  seconds: number;
  aubio: number | null;
  bpmTools: number | null;
}

const within = (estimate: number, truth: number): boolean => Math.abs(estimate / truth - 1) <= TOLERANCE;
export const acc1 = (estimate: number, truth: number): boolean => within(estimate, truth);
export const acc2 = (estimate: number, truth: number): boolean => [1, 2, 0.5, 3, 1 / 3].some((m) => within(estimate, truth * m));

/** MIREX key score of an estimate against the truth */
export function mirexScore(key: string, scale: string, trueKey: string, trueScale: string): number {
  const a = pitchClass(key);
  const b = pitchClass(trueKey);
  if (a === undefined || b === undefined) return 0;
  if (a === b && scale === trueScale) return 1;
  if (scale === trueScale && (a === (b + 7) % 12 || a === (b + 5) % 12)) return 0.5;
  if (scale !== trueScale && trueScale === 'major' && a === (b + 9) % 12) return 0.3;
  if (scale !== trueScale && trueScale === 'minor' && a === (b + 3) % 12) return 0.3;
  if (scale !== trueScale && a === b) return 0.2;
  return 0;
}

async function aubioTempo(file: string): Promise<number | null> {
  try {
    const { stdout } = await run('aubio', ['tempo', file], { maxBuffer: 1 << 20 });
    const bpm = Number.parseFloat(stdout);
    return Number.isFinite(bpm) ? bpm : null;
  } catch {
    return null;
  }
}

function bpmTools(file: string): Promise<number | null> {
  return new Promise((resolve) => {
    const decoder = spawn('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', '44100', '-f', 'f32le', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const bpm = spawn('bpm', ['-m', '60', '-x', '200'], { stdio: ['pipe', 'pipe', 'ignore'] });
    decoder.stdout.pipe(bpm.stdin);
    bpm.stdin.on('error', () => undefined);
    let out = '';
    bpm.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    bpm.on('error', () => resolve(null));
    bpm.on('close', () => {
      const value = Number.parseFloat(out);
      resolve(Number.isFinite(value) ? value : null);
    });
  });
}

async function installed(tool: string, args: string[]): Promise<boolean> {
  try {
    await run(tool, args);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const pct = (n: number, d: number): string => (d === 0 ? '–' : `${((100 * n) / d).toFixed(1)} % (${n}/${d})`);

function tempoRow(label: string, results: Result[], pick: (r: Result) => number | null): string[] {
  const rows = results.filter((r) => r.entry.bpm !== null && pick(r) !== null);
  const a1 = rows.filter((r) => acc1(pick(r)!, r.entry.bpm!)).length;
  const a2 = rows.filter((r) => acc2(pick(r)!, r.entry.bpm!)).length;
  const range = (lo: number, hi: number) => {
    const part = rows.filter((r) => r.entry.bpm! >= lo && r.entry.bpm! < hi);
    return pct(part.filter((r) => acc1(pick(r)!, r.entry.bpm!)).length, part.length);
  };
  const errors = rows.filter((r) => acc1(pick(r)!, r.entry.bpm!)).map((r) => Math.abs(pick(r)! / r.entry.bpm! - 1) * 100);
  return [label, pct(a1, rows.length), pct(a2, rows.length), range(0, 100), range(100, 160), range(160, 1000), errors.length ? `${median(errors).toFixed(3)} %` : '–'];
}

function keyRow(label: string, results: Result[]): string[] {
  const rows = results.filter((r) => r.entry.key !== null);
  const exact = rows.filter((r) => mirexScore(r.key, r.scale, r.entry.key!, r.entry.scale!) === 1).length;
  const mirex = rows.reduce((s, r) => s + mirexScore(r.key, r.scale, r.entry.key!, r.entry.scale!), 0);
  const confident = rows.filter((r) => r.keyConfidence >= LOW_KEY_CONFIDENCE);
  const confidentExact = confident.filter((r) => mirexScore(r.key, r.scale, r.entry.key!, r.entry.scale!) === 1).length;
  return [label, pct(exact, rows.length), rows.length ? (mirex / rows.length).toFixed(3) : '–', pct(confidentExact, confident.length), String(rows.length - confident.length)];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const entries = await buildAccuracySet((line) => console.error(line));
  const peers = { aubio: PEERS && (await installed('aubio', ['--help'])), bpm: PEERS && (await installed('bpm', ['-h'])) };
  console.log(`bench:accuracy — ${entries.length} files (${entries.filter((e) => e.bpm !== null).length} with tempo truth, ${entries.filter((e) => e.key !== null).length} with key truth); load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  const results: Result[] = [];
  for (const entry of entries) {
    const started = performance.now();
    const analysis = await analyseFile(entry.file, { sampleRate: null, channels: null, seconds: entry.seconds });
    const seconds = (performance.now() - started) / 1000;
    // the peers run after ours, file by file, so that load changes hit all alike
    const aubio = peers.aubio ? await aubioTempo(entry.file) : null;
    const bpm = peers.bpm ? await bpmTools(entry.file) : null;
    results.push({
      entry,
      bpm: analysis.tempo.bpm,
      alternative: analysis.tempo.alternative ?? null,
      key: analysis.key.key,
      scale: analysis.key.scale,
      keyConfidence: analysis.key.confidence,
      seconds,
      aubio,
      bpmTools: bpm,
    });
  }
  const parts: [string, Result[]][] = [
    ['development', results.filter((r) => r.entry.split === 'development')],
    ['held-out', results.filter((r) => r.entry.split === 'held-out')],
    ['all', results],
  ];
  const tempoHeader = ['part / tool', 'Acc1 (±4 %)', 'Acc2 (octaves allowed)', 'Acc1 < 100 BPM', 'Acc1 100–160', 'Acc1 > 160', 'median error when right'];
  const tempoRows: string[][] = [];
  for (const [label, rows] of parts) {
    tempoRows.push(tempoRow(`${label}: SoniqueBay`, rows, (r) => r.bpm));
    if (peers.aubio) tempoRows.push(tempoRow(`${label}: aubio`, rows, (r) => r.aubio));
    if (peers.bpm) tempoRows.push(tempoRow(`${label}: bpm-tools`, rows, (r) => r.bpmTools));
  }
  console.log('\nTempo\n' + table(tempoHeader, tempoRows));
  const alternatives = results.filter((r) => r.entry.bpm !== null && !acc1(r.bpm, r.entry.bpm) && r.alternative !== null && acc1(r.alternative, r.entry.bpm)).length;
  console.log(`misses whose stored alternative tempo is right: ${alternatives}`);
  const sources = [...new Set(results.map((r) => r.entry.source))].sort();
  console.log('\nBy source (both parts)\n' + table(['source', 'Acc1 (±4 %)', 'Acc2', 'key exact'], sources.map((source) => {
    const rows = results.filter((r) => r.entry.source === source);
    const tempo = tempoRow(source, rows, (r) => r.bpm);
    return [source, tempo[1]!, tempo[2]!, keyRow(source, rows)[1]!];
  })));
  console.log('\nKey\n' + table(['part', 'key exact', 'MIREX score', `exact when confidence ≥ ${LOW_KEY_CONFIDENCE}`, 'shown as uncertain'], parts.map(([label, rows]) => keyRow(label, rows))));
  console.log(`\nanalysis time per track (whole analysis, loudness included): median ${median(results.map((r) => r.seconds)).toFixed(2)} s`);
  if (VERBOSE) {
    console.log('\nMisses');
    for (const r of results) {
      const e = r.entry;
      const tempoMiss = e.bpm !== null && !acc1(r.bpm, e.bpm);
      const keyMiss = e.key !== null && mirexScore(r.key, r.scale, e.key, e.scale!) < 1;
      if (tempoMiss || keyMiss) {
        console.log(`${e.split.padEnd(11)} ${e.piece} [${e.variant}] ${tempoMiss ? `bpm ${e.bpm} → ${r.bpm} (alt ${r.alternative})` : ''} ${keyMiss ? `key ${e.key} ${e.scale} → ${r.key} ${r.scale} (${r.keyConfidence})` : ''}`);
      }
    }
  }
}

if (process.argv[1]?.endsWith("accuracy.bench.ts")) await main();
