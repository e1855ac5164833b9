// Scan benchmark (`npm run bench:scan`).
//
// Runs the real CLI (`node --import tsx src/cli.ts scan <dir> --json`, a fresh SONIQUEBAY_DATA_DIR
// each time) as a child process on generated libraries and compares it, in the same run, with
// plain music-metadata loops over the same files, each in its own child process too:
//   (a) first scan of a library of small files against a sequential `parseFile(path)` loop (the
//       naive baseline) and sequential `fs.promises.readFile` + `parseBuffer` and
//       `fs.readFileSync` + `parseBuffer` loops (references);
//   (b) an unchanged rescan on the same data dir;
//   (c) the scan process's peak RSS (VmHWM/VmRSS polled from /proc/<pid>/status) at two library
//       sizes, to see that memory stays flat;
//   (d) a library of full-length (4 minute) tracks: files/s and MB/s against the same loops.
//
// The machine may be shared and noisy: every figure is the median of BENCH_RUNS runs, the order of
// the contenders rotates from run to run, and only ratios measured in the same run are reported.
// For each child the CPU time the rest of the machine used meanwhile is printed ("bg cores"): the
// sequential loops wait on the libuv thread pool for every read and get faster when the other
// core is busy (fewer idle wake-ups), the scan gets slower, so that figure explains most swings.
// Every file of a library is read once before anything is timed (page cache warm), and one
// unmeasured warm-up round runs first (tsx transform cache, JIT of the parent).
//
// Libraries are generated once with scripts/fixtures.ts and cached under
// os.tmpdir()/soniquebay-bench/<name>/ (reused when their .fixtures.json exists); data dirs and
// file lists go in a temp dir that is removed at the end.
//
// Environment: BENCH_RUNS (3), BENCH_TRACKS (10000), BENCH_TRACKS_LARGE (20000),
// BENCH_LONG_TRACKS (300), BENCH_LONG_SECONDS (240), BENCH_ONLY (small | memory | long),
// BENCH_POLL_MS (50), BENCH_TSX (1: run the TypeScript CLI under tsx instead of the compiled
// dist/cli.js that production runs; the bench builds dist/ first, and the loops then run without tsx too).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { intEnv, median } from './helpers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(os.tmpdir(), 'soniquebay-bench');
const CHILD_TIMEOUT_MS = 15 * 60_000;

type BaselineMode = 'parseFile' | 'readFile' | 'readFileSync';
const BASELINES: readonly BaselineMode[] = ['parseFile', 'readFile', 'readFileSync'];
const BASELINE_LABEL: Record<BaselineMode, string> = {
  parseFile: 'parseFile loop',
  readFile: 'readFile+parseBuffer',
  readFileSync: 'readFileSync+parseBuffer',
};

/** What a baseline child prints (one JSON line on stdout). */
interface LoopResult {
  mode: BaselineMode;
  files: number;
  ok: number;
  failed: number;
  /** from the first file to the last, without process start-up */
  loopMs: number;
}

/**
 * The baseline child: one sequential loop over the paths in a JSON file, nothing else loaded.
 * Plain JavaScript run with `node --input-type=module -e` from the repo (so `music-metadata`
 * resolves to ours), under tsx when the scan runs under tsx: both sides pay the same loader.
 */
const LOOP_SOURCE = `
import fs from 'node:fs';
import { parseBuffer, parseFile } from 'music-metadata';
const [mode, listFile] = process.argv.slice(1);
const paths = JSON.parse(fs.readFileSync(listFile, 'utf8'));
let ok = 0;
let failed = 0;
const t0 = performance.now();
for (const file of paths) {
  try {
    if (mode === 'parseFile') {
      await parseFile(file);
    } else {
      const data = mode === 'readFile' ? await fs.promises.readFile(file) : fs.readFileSync(file);
      await parseBuffer(data, { path: file, size: data.length });
    }
    ok++;
  } catch {
    failed++;
  }
}
const loopMs = performance.now() - t0;
process.stdout.write(JSON.stringify({ mode, files: paths.length, ok, failed, loopMs }) + '\\n');
`;

// ---------------------------------------------------------------------------------------------
// small helpers

function fmtInt(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function mib(kib: number): string {
  return fmt(kib / 1024, 0);
}

/** a Markdown table: first column left-aligned, the others right-aligned unless `textColumns` */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns = false): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const left = (c: number) => c === 0 || textColumns;
  const line = (cells: readonly string[]) => '| ' + cells.map((cell, c) => (left(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w, c) => (left(c) ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}

function verdict(met: boolean): string {
  return met ? 'MET' : 'NOT MET';
}

// ---------------------------------------------------------------------------------------------
// libraries

interface Library {
  name: string;
  root: string;
  /** every audio file the scan must account for (what it discovers) */
  files: string[];
  bytes: number;
}

interface LibrarySpec {
  name: string;
  tracks: number;
  seconds: number;
  maxFfmpegTracks: number;
}

async function library(spec: LibrarySpec): Promise<Library> {
  const root = path.join(CACHE, spec.name);
  const manifestFile = path.join(root, '.fixtures.json');
  if (!fs.existsSync(manifestFile)) {
    // a folder without its manifest is a generation that did not finish
    fs.rmSync(root, { recursive: true, force: true });
    const { generateLibrary } = await import('../scripts/fixtures.js');
    const t0 = performance.now();
    await generateLibrary({ tracks: spec.tracks, out: root, seconds: spec.seconds, maxFfmpegTracks: spec.maxFfmpegTracks });
    console.log(`  generated ${spec.name} (${spec.tracks} tracks of ${spec.seconds} s) in ${fmt((performance.now() - t0) / 1000)} s`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { root: string; files: { path: string }[] };
  if (path.resolve(manifest.root) !== root) throw new Error(`${manifestFile}: made for ${manifest.root}, not ${root}; delete ${root}`);
  const files = manifest.files.map((f) => f.path);
  let bytes = 0;
  for (const file of files) bytes += fs.statSync(file).size;
  return { name: spec.name, root, files, bytes };
}

/** `cat` of every file under the library, so the page cache holds it before anything is timed. */
function warmPageCache(lib: Library): { files: number; bytes: number; ms: number } {
  const t0 = performance.now();
  let files = 0;
  let bytes = 0;
  const buffer = Buffer.allocUnsafe(1 << 20);
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile()) {
        const fd = fs.openSync(full, 'r');
        try {
          let n: number;
          while ((n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) bytes += n;
        } finally {
          fs.closeSync(fd);
        }
        files++;
      }
    }
  };
  visit(lib.root);
  return { files, bytes, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// child processes, with peak RSS and CPU time read from /proc while they run

interface ChildRun {
  stdout: string;
  wallMs: number;
  /** max of VmHWM and VmRSS seen while the child ran, KiB (0 if /proc is not available) */
  peakRssKiB: number;
  /** user + system CPU time at the last poll, s (slightly under the true total) */
  cpuS: number;
  /** CPU cores the rest of the machine kept busy meanwhile (NaN without /proc/stat) */
  bgCores: number;
}

let activeChild: ReturnType<typeof spawn> | undefined;
const CLK_TCK = 100; // Linux USER_HZ

function readProc(pid: number): { rssKiB: number; cpuS: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    return { rssKiB: Math.max(kib('VmHWM'), kib('VmRSS')), cpuS };
  } catch {
    return undefined; // exited between two polls
  }
}

/** whole-machine CPU ticks from /proc/stat: busy (user … steal) and total */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return { busy, total: busy + idle! + iowait! };
  } catch {
    return undefined;
  }
}

function runChild(args: string[], env: NodeJS.ProcessEnv, pollMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const ticks0 = machineTicks();
    const t0 = performance.now();
    // process.execPath directly (no npm, no shell): the pid polled is the process doing the work
    const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    activeChild = child;
    let stdout = '';
    let stderr = '';
    let peakRssKiB = 0;
    let cpuS = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const poll = () => {
      if (child.pid === undefined) return;
      const sample = readProc(child.pid);
      if (sample) {
        peakRssKiB = Math.max(peakRssKiB, sample.rssKiB);
        cpuS = Math.max(cpuS, sample.cpuS);
      }
    };
    const poller = setInterval(poll, pollMs);
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (err) => {
      clearInterval(poller);
      clearTimeout(killer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      const ticks1 = machineTicks();
      clearInterval(poller);
      clearTimeout(killer);
      activeChild = undefined;
      if (code !== 0) {
        reject(new Error(`child ${args.filter((a) => a.length < 200).join(' ')}: exit ${code ?? signal}\n${stderr.slice(-2_000)}`));
        return;
      }
      let bgCores = Number.NaN;
      if (ticks0 && ticks1 && ticks1.total > ticks0.total) {
        const machineCores = ((ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total)) * os.availableParallelism();
        bgCores = Math.max(0, machineCores - cpuS / (wallMs / 1000));
      }
      resolve({ stdout, wallMs, peakRssKiB, cpuS, bgCores });
    });
  });
}

/** the scan child's environment: the bench's own data dir, nothing else of SoniqueBay's config */
function scanEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SONIQUEBAY_') && key !== 'CELERY_BROKER_URL') env[key] = value;
  }
  env.SONIQUEBAY_DATA_DIR = dataDir;
  return env;
}

/** How the children run: the compiled cli.js as in production (default), or the TypeScript CLI under tsx. */
interface Runtime {
  label: string;
  /** node arguments that start the CLI, before `scan …` */
  cli: string[];
  /** node arguments put before the baseline loop's `-e` */
  loader: string[];
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function runtimeOf(useTsx: boolean): Runtime {
  if (useTsx) return { label: 'node --import tsx src/cli.ts', cli: ['--import', 'tsx', path.join(REPO, 'src', 'cli.ts')], loader: ['--import', 'tsx'] };
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const file = path.join(REPO, 'dist', 'cli.js');
  if (fs.statSync(file).mtimeMs < newestMtimeMs(path.join(REPO, 'src'))) throw new Error(`${file} is older than src/ after the build`);
  const relative = path.relative(REPO, file);
  return { label: `node ${relative.startsWith('..') ? file : relative}`, cli: [file], loader: [] };
}

interface ScanSummary {
  status: string;
  seconds: number;
  filesPerSecond: number;
  discovered: number;
  unchanged: number;
  extracted: number;
  failed: number;
  lastError: string | null;
}

interface ScanRun extends ChildRun {
  summary: ScanSummary;
}

async function cliScan(ctx: Context, lib: Library, dataDir: string, expect: 'first' | 'unchanged'): Promise<ScanRun> {
  const run = await runChild([...ctx.runtime.cli, 'scan', lib.root, '--json'], scanEnv(dataDir), ctx.pollMs);
  const summary = JSON.parse(run.stdout) as ScanSummary;
  const n = lib.files.length;
  const problems: string[] = [];
  if (summary.status !== 'completed') problems.push(`status ${summary.status} (${summary.lastError ?? ''})`);
  if (summary.discovered !== n) problems.push(`discovered ${summary.discovered}, expected ${n}`);
  if (expect === 'first' && summary.extracted + summary.failed !== n) problems.push(`extracted ${summary.extracted} + failed ${summary.failed} != ${n}`);
  if (expect === 'unchanged' && (summary.unchanged !== n || summary.extracted !== 0)) problems.push(`rescan: unchanged ${summary.unchanged}, extracted ${summary.extracted}`);
  if (problems.length > 0) throw new Error(`scan of ${lib.name}: ${problems.join('; ')}`);
  return { ...run, summary };
}

interface BaselineRun extends ChildRun {
  result: LoopResult;
}

async function baselineLoop(ctx: Context, mode: BaselineMode, lib: Library): Promise<BaselineRun> {
  const run = await runChild([...ctx.runtime.loader, '--input-type=module', '-e', LOOP_SOURCE, '--', mode, ctx.listFile(lib)], { ...process.env }, ctx.pollMs);
  const result = JSON.parse(run.stdout) as LoopResult;
  if (result.files !== lib.files.length) throw new Error(`${mode} loop: ${result.files} files, expected ${lib.files.length}`);
  return { ...run, result };
}

// ---------------------------------------------------------------------------------------------
// the measurements

interface Context {
  root: string;
  runs: number;
  pollMs: number;
  runtime: Runtime;
  fresh(label: string): string;
  listFile(lib: Library): string;
}

/** one run of each contender; the order rotates with `run` */
interface Round {
  scan: ScanRun;
  rescan: ScanRun;
  loops: Partial<Record<BaselineMode, BaselineRun>>;
}

async function round(ctx: Context, lib: Library, run: number): Promise<Round> {
  const contenders = ['scan', ...BASELINES] as const;
  const order = contenders.map((_, i) => contenders[(i + run - 1) % contenders.length]!);
  const out: Round = { loops: {} } as Round;
  for (const which of order) {
    if (which === 'scan') {
      const dataDir = ctx.fresh(`${lib.name}-run${run}`);
      out.scan = await cliScan(ctx, lib, dataDir, 'first');
      out.rescan = await cliScan(ctx, lib, dataDir, 'unchanged');
      fs.rmSync(dataDir, { recursive: true, force: true });
    } else {
      out.loops[which] = await baselineLoop(ctx, which, lib);
    }
  }
  return out;
}

function loopRate(lib: Library, run: BaselineRun): number {
  return (lib.files.length * 1000) / run.result.loopMs;
}

function describeRound(lib: Library, run: number, r: Round): string {
  const bg = (c: ChildRun) => `bg ${fmt(c.bgCores, 2)}`;
  const parts = [
    `scan ${fmtInt(r.scan.summary.filesPerSecond)} files/s (wall ${fmt(r.scan.wallMs / 1000, 2)} s, RSS ${mib(r.scan.peakRssKiB)} MiB, ${bg(r.scan)})`,
    `rescan ${fmtInt(r.rescan.summary.filesPerSecond)} files/s (wall ${fmt(r.rescan.wallMs / 1000, 2)} s)`,
    ...BASELINES.map((mode) => `${BASELINE_LABEL[mode]} ${fmtInt(loopRate(lib, r.loops[mode]!))} (${bg(r.loops[mode]!)})`),
  ];
  return `  run ${run}: ${parts.join(', ')}`;
}

interface Rates {
  /** files/s by the contender's own clock: the scan's summary, the loop's timer */
  own: number;
  /** files/s by wall time of the whole child process (start-up included) */
  wall: number;
  mbOwn: number;
  seconds: number;
  wallS: number;
  cpuS: number;
  rssKiB: number;
  bgCores: number;
}

function scanRates(lib: Library, runs: readonly ScanRun[]): Rates {
  return {
    own: median(runs.map((r) => r.summary.filesPerSecond)),
    wall: median(runs.map((r) => (lib.files.length * 1000) / r.wallMs)),
    mbOwn: median(runs.map((r) => lib.bytes / 1e6 / r.summary.seconds)),
    seconds: median(runs.map((r) => r.summary.seconds)),
    wallS: median(runs.map((r) => r.wallMs / 1000)),
    cpuS: median(runs.map((r) => r.cpuS)),
    rssKiB: median(runs.map((r) => r.peakRssKiB)),
    bgCores: median(runs.map((r) => r.bgCores)),
  };
}

function loopRates(lib: Library, runs: readonly BaselineRun[]): Rates {
  return {
    own: median(runs.map((r) => loopRate(lib, r))),
    wall: median(runs.map((r) => (lib.files.length * 1000) / r.wallMs)),
    mbOwn: median(runs.map((r) => lib.bytes / 1e6 / (r.result.loopMs / 1000))),
    seconds: median(runs.map((r) => r.result.loopMs / 1000)),
    wallS: median(runs.map((r) => r.wallMs / 1000)),
    cpuS: median(runs.map((r) => r.cpuS)),
    rssKiB: median(runs.map((r) => r.peakRssKiB)),
    bgCores: median(runs.map((r) => r.bgCores)),
  };
}

function rateRow(label: string, r: Rates, ref: Rates | undefined, withMb: boolean): string[] {
  const row = [label, fmtInt(r.own), fmt(r.seconds, 2), fmtInt(r.wall), fmt(r.wallS, 2), fmt(r.cpuS, 1), mib(r.rssKiB), fmt(r.bgCores, 2)];
  if (withMb) row.splice(2, 0, fmt(r.mbOwn, 0));
  row.push(ref ? `${fmt(r.own / ref.own, 2)}x` : '', ref ? `${fmt(r.wall / ref.wall, 2)}x` : '');
  return row;
}

function rateHeader(withMb: boolean): string[] {
  const header = ['(median)', 'files/s', 'seconds', 'files/s (wall)', 'wall s', 'cpu s', 'peak RSS MiB', 'bg cores', 'vs parseFile', 'vs parseFile (wall)'];
  if (withMb) header.splice(2, 0, 'MB/s');
  return header;
}

interface Outcome {
  /** median over runs of scan files/s / parseFile files/s (the two measured in the same round) */
  pairedRatio: number;
  scan: Rates;
  rescan: Rates;
  loops: Record<BaselineMode, Rates>;
  scanRuns: ScanRun[];
}

/** (a)+(b) on the small library, (d) on the long one: the scan and every loop, BENCH_RUNS rounds */
async function benchAgainstLoops(ctx: Context, lib: Library, title: string, withMb: boolean): Promise<Outcome> {
  console.log(`\n## ${title}: ${lib.name}, ${fmtInt(lib.files.length)} audio files, ${fmt(lib.bytes / 1e6, 0)} MB (${fmt(lib.bytes / 1e6 / lib.files.length, 2)} MB a file)`);
  const rounds: Round[] = [];
  for (let run = 1; run <= ctx.runs; run++) {
    const r = await round(ctx, lib, run);
    console.log(describeRound(lib, run, r));
    rounds.push(r);
  }
  const paired = rounds.map((r) => r.scan.summary.filesPerSecond / loopRate(lib, r.loops.parseFile!));
  const loops = Object.fromEntries(BASELINES.map((mode) => [mode, loopRates(lib, rounds.map((r) => r.loops[mode]!))])) as Record<BaselineMode, Rates>;
  const out: Outcome = {
    pairedRatio: median(paired),
    scan: scanRates(lib, rounds.map((r) => r.scan)),
    rescan: scanRates(lib, rounds.map((r) => r.rescan)),
    loops,
    scanRuns: rounds.map((r) => r.scan),
  };
  console.log();
  console.log(
    table(rateHeader(withMb), [
      rateRow('scan (CLI, first)', out.scan, loops.parseFile, withMb),
      rateRow('rescan (unchanged)', { ...out.rescan, mbOwn: Number.NaN }, loops.parseFile, withMb),
      ...BASELINES.map((mode) => rateRow(BASELINE_LABEL[mode], loops[mode], loops.parseFile, withMb)),
    ]),
  );
  console.log(`scan / parseFile loop per run: ${paired.map((x) => fmt(x, 2)).join(', ')} (median ${fmt(out.pairedRatio, 2)})`);
  console.log(
    `scan / readFile+parseBuffer loop: ${fmt(out.scan.own / loops.readFile.own, 2)}x; scan / readFileSync+parseBuffer loop: ${fmt(out.scan.own / loops.readFileSync.own, 2)}x`,
  );
  return out;
}

async function benchMemory(ctx: Context, lib: Library): Promise<ScanRun[]> {
  console.log(`\n## (c) peak RSS at ${fmtInt(lib.files.length)} files: ${lib.name}, ${fmt(lib.bytes / 1e6, 0)} MB`);
  const runs: ScanRun[] = [];
  for (let run = 1; run <= ctx.runs; run++) {
    const dataDir = ctx.fresh(`${lib.name}-run${run}`);
    const scan = await cliScan(ctx, lib, dataDir, 'first');
    const rescan = await cliScan(ctx, lib, dataDir, 'unchanged');
    fs.rmSync(dataDir, { recursive: true, force: true });
    console.log(
      `  run ${run}: scan ${fmtInt(scan.summary.filesPerSecond)} files/s (wall ${fmt(scan.wallMs / 1000, 2)} s, RSS ${mib(scan.peakRssKiB)} MiB, bg ${fmt(scan.bgCores, 2)}), rescan ${fmtInt(rescan.summary.filesPerSecond)} files/s (RSS ${mib(rescan.peakRssKiB)} MiB)`,
    );
    runs.push(scan);
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runs = intEnv('BENCH_RUNS', 3);
  const tracks = intEnv('BENCH_TRACKS', 10_000);
  const tracksLarge = intEnv('BENCH_TRACKS_LARGE', 20_000);
  const longTracks = intEnv('BENCH_LONG_TRACKS', 300);
  const longSeconds = intEnv('BENCH_LONG_SECONDS', 240);
  const pollMs = intEnv('BENCH_POLL_MS', 50);
  const only = process.env.BENCH_ONLY ?? '';
  if (!['', 'small', 'memory', 'long'].includes(only)) throw new Error(`BENCH_ONLY must be small, memory or long, got "${only}"`);
  const runtime = runtimeOf(process.env.BENCH_TSX === '1');
  const { READ_WHOLE_MAX_BYTES } = await import('../src/workers/scan/metadata_extractor.js');
  const mmVersion = (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'music-metadata', 'package.json'), 'utf8')) as { version: string }).version;

  console.log(`# bench:scan  node ${process.version}, ${os.availableParallelism()} CPU(s) (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB RAM`);
  console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; music-metadata ${mmVersion}; READ_WHOLE_MAX_BYTES ${READ_WHOLE_MAX_BYTES / 2 ** 20} MiB`);
  console.log(`scan: ${runtime.label} scan <dir> --json; loops: node ${[...runtime.loader, '--input-type=module -e <loop>'].join(' ')}`);
  console.log(`${runs} runs (median), contenders in rotating order; RSS and CPU polled from /proc every ${pollMs} ms; libraries cached in ${CACHE}`);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-scan-'));
  const cleanup = () => fs.rmSync(root, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    activeChild?.kill('SIGKILL');
    cleanup();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let counter = 0;
  const lists = new Map<string, string>();
  const ctx: Context = {
    root,
    runs,
    pollMs,
    runtime,
    fresh: (label) => fs.mkdtempSync(path.join(root, `data-${label}-${++counter}-`)),
    listFile: (lib) => {
      let file = lists.get(lib.name);
      if (!file) {
        file = path.join(root, `${lib.name}.paths.json`);
        fs.writeFileSync(file, JSON.stringify(lib.files));
        lists.set(lib.name, file);
      }
      return file;
    },
  };

  try {
    console.log(`\n## libraries`);
    const warmup = await library({ name: 'warmup-60x1s', tracks: 60, seconds: 1, maxFfmpegTracks: 8 });
    const small = only === '' || only === 'small' || only === 'memory' ? await library({ name: `small-${tracks}x1s`, tracks, seconds: 1, maxFfmpegTracks: 200 }) : undefined;
    const large = only === '' || only === 'memory' ? await library({ name: `small-${tracksLarge}x1s`, tracks: tracksLarge, seconds: 1, maxFfmpegTracks: 200 }) : undefined;
    const long = only === '' || only === 'long' ? await library({ name: `long-${longTracks}x${longSeconds}s`, tracks: longTracks, seconds: longSeconds, maxFfmpegTracks: 40 }) : undefined;
    for (const lib of [warmup, small, large, long]) {
      if (!lib) continue;
      const warm = warmPageCache(lib);
      console.log(`  ${lib.name}: ${fmtInt(lib.files.length)} audio files (${fmt(lib.bytes / 1e6, 0)} MB) in ${lib.root}; page cache warmed: read ${fmtInt(warm.files)} files, ${fmt(warm.bytes / 1e6, 0)} MB in ${fmt(warm.ms / 1000, 2)} s`);
    }
    // unmeasured: tsx's transform cache, the parent's JIT, the scan's first start
    await round(ctx, warmup, 1);

    /** [what, met (undefined: no target, reported only), measured] */
    const targets: [string, boolean | undefined, string][] = [];
    let smallOut: Outcome | undefined;
    if (small && only !== 'memory') {
      smallOut = await benchAgainstLoops(ctx, small, '(a) first scan and (b) unchanged rescan', false);
      const { scan, rescan, loops, pairedRatio } = smallOut;
      targets.push([
        '(a) scan >= 2x the naive parseFile loop',
        pairedRatio >= 2,
        `${fmt(pairedRatio, 2)}x (median of paired runs; ratio of medians ${fmt(scan.own / loops.parseFile.own, 2)}x, wall ${fmt(scan.wall / loops.parseFile.wall, 2)}x; bg cores scan ${fmt(scan.bgCores, 2)}, loop ${fmt(loops.parseFile.bgCores, 2)})`,
      ]);
      targets.push(['(a) scan >= 1,000 files/s warm', scan.own >= 1_000, `${fmtInt(scan.own)} files/s (wall ${fmtInt(scan.wall)})`]);
      targets.push(['(a) reference: scan / readFileSync+parseBuffer loop', undefined, `${fmt(scan.own / loops.readFileSync.own, 2)}x (loop ${fmtInt(loops.readFileSync.own)} files/s)`]);
      targets.push(['(b) unchanged rescan >= 20,000 files/s', rescan.own >= 20_000, `${fmtInt(rescan.own)} files/s (wall ${fmtInt(rescan.wall)}, start-up included)`]);
    }
    if (small && large) {
      const smallRuns = smallOut?.scanRuns ?? (await benchMemory(ctx, small));
      const largeRuns = await benchMemory(ctx, large);
      const rss = (runs: readonly ScanRun[]) => ({ median: median(runs.map((r) => r.peakRssKiB)), max: Math.max(...runs.map((r) => r.peakRssKiB)) });
      const rate = (runs: readonly ScanRun[]) => median(runs.map((r) => r.summary.filesPerSecond));
      const a = rss(smallRuns);
      const b = rss(largeRuns);
      console.log();
      console.log(
        table(
          ['scan peak RSS', 'files', 'median MiB', 'max MiB', 'files/s (median)'],
          [
            [small.name, fmtInt(small.files.length), mib(a.median), mib(a.max), fmtInt(rate(smallRuns))],
            [large.name, fmtInt(large.files.length), mib(b.median), mib(b.max), fmtInt(rate(largeRuns))],
          ],
        ),
      );
      const growth = b.median / a.median;
      console.log(`peak RSS ${large.name} / ${small.name}: ${fmt(growth, 2)}x (median), ${fmt(b.max / a.max, 2)}x (max)`);
      targets.push(['(c) peak RSS < 250 MiB at both sizes', Math.max(a.max, b.max) < 250 * 1024, `max ${mib(a.max)} / ${mib(b.max)} MiB`]);
      targets.push([`(c) RSS flat: ${fmtInt(large.files.length)} files <= 1.2x ${fmtInt(small.files.length)} files`, growth <= 1.2, `${fmt(growth, 2)}x (median peak)`]);
    }
    if (long) {
      const out = await benchAgainstLoops(ctx, long, `(d) full-length tracks (${longSeconds} s)`, true);
      targets.push([
        '(d) full-length tracks: scan / parseFile loop',
        undefined,
        `${fmt(out.pairedRatio, 2)}x: scan ${fmtInt(out.scan.own)} files/s, ${fmt(out.scan.mbOwn, 0)} MB/s, RSS ${mib(out.scan.rssKiB)} MiB; loop ${fmtInt(out.loops.parseFile.own)} files/s`,
      ]);
    }

    console.log(`\n## targets (files/s by the scan's own summary and the loop's own timer; wall time in brackets)`);
    console.log(table(['target', 'result', 'measured'], targets.map(([what, met, measured]) => [what, met === undefined ? '(no target)' : verdict(met), measured]), true));
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
