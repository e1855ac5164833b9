// Scan benchmark (`npm run bench:scan`): the installed `soniquebay scan` command against its peers,
// in the same run, on the same files.
//
// Contenders, each a process of its own, as its user runs it:
//   soniquebay      `bin/soniquebay.js scan <dir> --json` (its `#!` flags, its real worker), a fresh
//                   SONIQUEBAY_DATA_DIR; built first (`npm run build`), as `npm ci` builds it;
//   beets           `beet import -A -q <dir>` (album mode, no autotagger) and, separately,
//   beets -s        `beet import -A -s -q <dir>` (singleton mode); rescans are `beet update`;
//   mpd             a private daemon on 127.0.0.1 (own port, database, log; bench/peers.ts): its first
//                   scan is the update it runs at start on an empty database, rescans are
//                   `mpc update --wait`;
//   parseFile loop  music-metadata's `parseFile` over the same file list, one file after another
//                   (the naive baseline), in a plain `node` child.
// Peers that are not installed are skipped (and said so). Install them with
//   apt-get install beets mpd mpc
// (Debian packages; benchmarks are not tests, so CI does not install them).
//
// Scenarios, on libraries generated once by scripts/fixtures.ts and cached under
// os.tmpdir()/soniquebay-bench/ (page cache warmed before anything is timed):
//   first      first scan of a library of small files (10,150 files of 1 s by default) and of
//              full-length tracks (309 files of 240 s);
//   unchanged  the same command again on the same state;
//   touched    1 % of the files get a new mtime (every 100th file), then the command again.
// Every round runs every contender through first → unchanged → touched, in an order that rotates
// from round to round; ratios are paired (soniquebay / peer within one round), then the median is
// taken. Rates are files / wall time of the whole command, process start included (for mpd: from
// starting the daemon to the end of its update). Peak RSS is polled from /proc (VmHWM) every
// BENCH_POLL_MS; for mpd it is the daemon's. The load average is printed with every round. Every
// timed command starts after an untimed `sync` (see runChild).
//
// `BENCH_ONLY=million` runs the big-library mode instead (bench/million.ts).
//
// Environment: BENCH_RUNS (3), BENCH_TRACKS (10000), BENCH_LONG_TRACKS (300), BENCH_LONG_SECONDS
// (240), BENCH_ONLY (small | long | million), BENCH_PEERS (comma list of soniquebay, beets,
// beets-singleton, mpd, parseFile; default all), BENCH_POLL_MS (50), BENCH_TOUCH_EVERY (100: 1 %).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { intEnv, median } from './helpers.js';
import { beetsSetup, beetsVersion, freePort, installed, MpdDaemon, mpdVersion } from './peers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(os.tmpdir(), 'soniquebay-bench');
const CHILD_TIMEOUT_MS = 30 * 60_000;

/** The naive baseline: one sequential parseFile loop over the paths in a JSON file. */
const LOOP_SOURCE = `
import fs from 'node:fs';
import { parseFile } from 'music-metadata';
const paths = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
let failed = 0;
for (const file of paths) {
  try { await parseFile(file); } catch { failed++; }
}
process.stdout.write(JSON.stringify({ files: paths.length, failed }) + '\\n');
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

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** the process whose RSS and CPU count (mpd's daemon while `mpc` waits); default the child */
  pollPid?: () => number | undefined;
  /** resolves when the work is done, for a child that does not exit by itself (mpd) */
  until?: () => Promise<unknown>;
}

/**
 * Runs one command and measures it; rejects on a non-zero exit. The disks are synced first, untimed:
 * the kernel writes a first scan's database and pictures back in the seconds after it, and that
 * writeback landed in the next command's time (10k files, an unchanged rescan right after the
 * first scan, 3 pairs: 0.40-0.52 s without the sync, 0.38-0.43 s after it).
 */
function runChild(command: string, args: readonly string[], options: RunOptions = {}): Promise<ChildRun> {
  execFileSync('sync');
  return new Promise((resolve, reject) => {
    const ticks0 = machineTicks();
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: REPO, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    activeChild = child;
    let stdout = '';
    let stderr = '';
    let peakRssKiB = 0;
    let cpu0: number | undefined;
    let cpuS = 0;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const poll = () => {
      const pid = options.pollPid ? options.pollPid() : child.pid;
      if (pid === undefined) return;
      const sample = readProc(pid);
      if (!sample) return;
      peakRssKiB = Math.max(peakRssKiB, sample.rssKiB);
      cpu0 ??= options.pollPid ? sample.cpuS : 0; // a daemon's CPU before this command is not its
      cpuS = Math.max(cpuS, sample.cpuS - cpu0);
    };
    poll();
    const poller = setInterval(poll, POLL_MS);
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    const finish = (err: Error | null) => {
      const wallMs = performance.now() - t0;
      poll();
      const ticks1 = machineTicks();
      clearInterval(poller);
      clearTimeout(killer);
      activeChild = undefined;
      if (err) return reject(err);
      let bgCores = Number.NaN;
      if (ticks0 && ticks1 && ticks1.total > ticks0.total) {
        const machineCores = ((ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total)) * os.availableParallelism();
        bgCores = Math.max(0, machineCores - cpuS / (wallMs / 1000));
      }
      resolve({ stdout, wallMs, peakRssKiB, cpuS, bgCores });
    };
    child.on('error', (err) => finish(err));
    if (options.until) {
      options.until().then(
        () => finish(null),
        (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
      );
      child.on('exit', (code, signal) => {
        if (activeChild === child) finish(new Error(`${command} exited (${code ?? signal}) before its work was done\n${stderr.slice(-2_000)}`));
      });
    } else {
      child.on('exit', (code, signal) => {
        if (code !== 0) finish(new Error(`${command} ${args.filter((a) => a.length < 200).join(' ')}: exit ${code ?? signal}\n${stderr.slice(-2_000)}`));
        else finish(null);
      });
    }
  });
}

const POLL_MS = intEnv('BENCH_POLL_MS', 50);

// ---------------------------------------------------------------------------------------------
// the contenders

type Phase = 'first' | 'unchanged' | 'touched';
const PHASES: readonly Phase[] = ['first', 'unchanged', 'touched'];

interface Contender {
  name: string;
  /** why it is skipped, if it is */
  missing?: string;
  /** which phases it has (the loop has only `first`) */
  phases: readonly Phase[];
  /** one pass of its phases on `lib`; `touch` changes 1 % of the files between unchanged and touched */
  run(lib: Library, touch: () => number, scratch: string): Promise<Partial<Record<Phase, ChildRun>>>;
}

interface ScanSummary {
  status: string;
  seconds: number;
  discovered: number;
  unchanged: number;
  extracted: number;
  failed: number;
  lastError: string | null;
}

function soniquebay(): Contender {
  const bin = path.join(REPO, 'bin', 'soniquebay.js');
  return {
    name: 'soniquebay scan',
    phases: PHASES,
    async run(lib, touch, scratch) {
      const env: NodeJS.ProcessEnv = { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`, SONIQUEBAY_DATA_DIR: path.join(scratch, 'data') };
      const scan = async (expect: Phase, touched = 0) => {
        const run = await runChild(bin, ['scan', lib.root, '--json'], { env });
        const s = JSON.parse(run.stdout) as ScanSummary;
        const n = lib.files.length;
        const problems: string[] = [];
        if (s.status !== 'completed') problems.push(`status ${s.status} (${s.lastError ?? ''})`);
        if (s.discovered !== n) problems.push(`discovered ${s.discovered}, expected ${n}`);
        if (expect === 'first' && s.extracted + s.failed !== n) problems.push(`extracted ${s.extracted} + failed ${s.failed} != ${n}`);
        if (expect === 'unchanged' && s.extracted !== 0) problems.push(`unchanged rescan read ${s.extracted} files`);
        if (expect === 'touched' && s.extracted + s.failed < touched) problems.push(`touched rescan read ${s.extracted + s.failed} of ${touched} touched files`);
        if (problems.length > 0) throw new Error(`soniquebay scan of ${lib.name} (${expect}): ${problems.join('; ')}`);
        return run;
      };
      const first = await scan('first');
      const unchanged = await scan('unchanged');
      const touched = await scan('touched', touch());
      return { first, unchanged, touched };
    },
  };
}

function beets(singleton: boolean): Contender {
  const name = singleton ? 'beets import -A -s' : 'beets import -A';
  return {
    name,
    ...(installed('beet') ? {} : { missing: 'beet not installed (apt-get install beets)' }),
    phases: PHASES,
    async run(lib, touch, scratch) {
      const { env, args } = beetsSetup(path.join(scratch, 'beets'));
      const first = await runChild('beet', [...args, 'import', '-A', '-q', ...(singleton ? ['-s'] : []), lib.root], { env });
      const unchanged = await runChild('beet', [...args, 'update'], { env });
      touch();
      const touched = await runChild('beet', [...args, 'update'], { env });
      return { first, unchanged, touched };
    },
  };
}

function mpd(): Contender {
  const missing = !installed('mpd') ? 'mpd not installed (apt-get install mpd mpc)' : !installed('mpc') ? 'mpc not installed (apt-get install mpc)' : undefined;
  return {
    name: 'mpd',
    ...(missing ? { missing } : {}),
    phases: PHASES,
    async run(lib, touch, scratch) {
      const daemon = new MpdDaemon(path.join(scratch, 'mpd'), lib.root, await freePort());
      try {
        // the daemon runs from here on: its first scan is the update it starts on an empty database
        const first = await runChild('mpd', ['--no-daemon', daemon.configFile], { until: () => daemon.settled(CHILD_TIMEOUT_MS) });
        const pid = daemon.pid;
        const unchanged = await runChild('mpc', daemon.mpc('update', '--wait'), { pollPid: () => pid });
        touch();
        const touched = await runChild('mpc', daemon.mpc('update', '--wait'), { pollPid: () => pid });
        return { first, unchanged, touched };
      } finally {
        await daemon.stop();
      }
    },
  };
}

function parseFileLoop(listFile: (lib: Library) => string): Contender {
  return {
    name: 'parseFile loop',
    phases: ['first'],
    async run(lib) {
      const first = await runChild(process.execPath, ['--input-type=module', '-e', LOOP_SOURCE, listFile(lib)]);
      const out = JSON.parse(first.stdout) as { files: number };
      if (out.files !== lib.files.length) throw new Error(`parseFile loop: ${out.files} files, expected ${lib.files.length}`);
      return { first };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// rounds, medians, paired ratios

type Results = Map<string, Partial<Record<Phase, ChildRun>>[]>;

let touchCounter = 0;
/** New mtime (now, distinct per call) for every BENCH_TOUCH_EVERY-th file; returns how many. */
function toucher(lib: Library, every: number): () => number {
  return () => {
    const when = new Date(Date.now() + ++touchCounter * 1000);
    let n = 0;
    for (let i = 0; i < lib.files.length; i += every) {
      fs.utimesSync(lib.files[i]!, when, when);
      n++;
    }
    return n;
  };
}

function load(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

async function benchLibrary(lib: Library, contenders: readonly Contender[], runs: number, touchEvery: number, scratchRoot: string): Promise<Results> {
  console.log(`\n## ${lib.name}: ${fmtInt(lib.files.length)} audio files, ${fmt(lib.bytes / 1e6, 0)} MB (${fmt(lib.bytes / 1e6 / lib.files.length, 2)} MB a file)`);
  const results: Results = new Map(contenders.map((c) => [c.name, []]));
  for (let run = 1; run <= runs; run++) {
    const order = contenders.map((_, i) => contenders[(i + run - 1) % contenders.length]!);
    console.log(`  round ${run} (load ${load()}): ${order.map((c) => c.name).join(' → ')}`);
    for (const c of order) {
      const scratch = fs.mkdtempSync(path.join(scratchRoot, `${c.name.replace(/\W+/g, '-')}-`));
      try {
        const r = await c.run(lib, toucher(lib, touchEvery), scratch);
        results.get(c.name)!.push(r);
        const parts = c.phases.map((p) => `${p} ${fmt(r[p]!.wallMs / 1000, 2)} s (${fmtInt((lib.files.length * 1000) / r[p]!.wallMs)} files/s, RSS ${mib(r[p]!.peakRssKiB)} MiB, cpu ${fmt(r[p]!.cpuS, 1)} s, bg ${fmt(r[p]!.bgCores, 2)})`);
        console.log(`    ${c.name}: ${parts.join('; ')}`);
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    }
  }
  const phases = PHASES.filter((p) => contenders.some((c) => c.phases.includes(p)));
  const rows: string[][] = [];
  for (const c of contenders) {
    for (const p of c.phases) {
      const runsOf = results.get(c.name)!.map((r) => r[p]!);
      const wall = median(runsOf.map((r) => r.wallMs / 1000));
      rows.push([`${c.name} (${p})`, fmtInt(lib.files.length / wall), fmt(wall, 2), fmt(median(runsOf.map((r) => r.cpuS)), 1), mib(median(runsOf.map((r) => r.peakRssKiB))), mib(Math.max(...runsOf.map((r) => r.peakRssKiB))), fmt(median(runsOf.map((r) => r.bgCores)), 2)]);
    }
  }
  console.log();
  console.log(table(['(median of ' + runs + ')', 'files/s (wall)', 'wall s', 'cpu s', 'peak RSS MiB', 'max RSS MiB', 'bg cores'], rows));
  const ours = results.get('soniquebay scan');
  if (ours) {
    console.log();
    const ratioRows: string[][] = [];
    for (const c of contenders) {
      if (c.name === 'soniquebay scan') continue;
      const theirs = results.get(c.name)!;
      for (const p of phases.filter((x) => c.phases.includes(x))) {
        // > 1: soniquebay is faster (peer wall / soniquebay wall, same round)
        const paired = ours.map((r, i) => theirs[i]![p]!.wallMs / r[p]!.wallMs);
        ratioRows.push([`${p}: soniquebay / ${c.name}`, `${fmt(median(paired), 2)}x`, paired.map((x) => fmt(x, 2)).join(', ')]);
      }
    }
    console.log(table(['speed ratio (paired per round, wall)', 'median', 'per round'], ratioRows));
  }
  return results;
}

export function pairedRatio(results: Results, peer: string, phase: Phase): number {
  const ours = results.get('soniquebay scan');
  const theirs = results.get(peer);
  if (!ours || !theirs || theirs.length === 0) return Number.NaN;
  return median(ours.map((r, i) => theirs[i]![phase]!.wallMs / r[phase]!.wallMs));
}

// ---------------------------------------------------------------------------------------------

function build(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const file = path.join(REPO, 'dist', 'cli.js');
  let newest = 0;
  for (const entry of fs.readdirSync(path.join(REPO, 'src'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  if (fs.statSync(file).mtimeMs < newest) throw new Error(`${file} is older than src/ after the build`);
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY ?? '';
  if (!['', 'small', 'long', 'million'].includes(only)) throw new Error(`BENCH_ONLY must be small, long or million, got "${only}"`);
  build();
  if (only === 'million') {
    const { benchMillion } = await import('./million.js');
    await benchMillion();
    return;
  }
  const runs = intEnv('BENCH_RUNS', 3);
  const tracks = intEnv('BENCH_TRACKS', 10_000);
  const longTracks = intEnv('BENCH_LONG_TRACKS', 300);
  const longSeconds = intEnv('BENCH_LONG_SECONDS', 240);
  const touchEvery = intEnv('BENCH_TOUCH_EVERY', 100);
  const mmVersion = (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', 'music-metadata', 'package.json'), 'utf8')) as { version: string }).version;

  const scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-scan-'));
  const lists = new Map<string, string>();
  const listFile = (lib: Library) => {
    let file = lists.get(lib.name);
    if (!file) {
      file = path.join(scratchRoot, `${lib.name}.paths.json`);
      fs.writeFileSync(file, JSON.stringify(lib.files));
      lists.set(lib.name, file);
    }
    return file;
  };
  const all = [soniquebay(), beets(false), beets(true), mpd(), parseFileLoop(listFile)];
  const wanted = process.env.BENCH_PEERS?.split(',').map((s) => s.trim());
  const keys: Record<string, string> = { 'soniquebay scan': 'soniquebay', 'beets import -A': 'beets', 'beets import -A -s': 'beets-singleton', mpd: 'mpd', 'parseFile loop': 'parseFile' };
  const contenders = all.filter((c) => !wanted || wanted.includes(keys[c.name]!));
  for (const c of contenders.filter((c) => c.missing)) console.log(`skipped: ${c.name}: ${c.missing}`);
  const present = contenders.filter((c) => !c.missing);

  console.log(`# bench:scan  node ${process.version}, ${os.availableParallelism()} CPU(s) (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB RAM`);
  console.log(`load average at start: ${load()}; music-metadata ${mmVersion}; beets ${installed('beet') ? beetsVersion() : '-'}; mpd ${installed('mpd') ? mpdVersion() : '-'}`);
  console.log(`${runs} rounds (median), contenders rotate; every ${touchEvery}th file touched for "touched"; RSS/CPU polled every ${POLL_MS} ms; libraries cached in ${CACHE}`);

  const onSignal = (signal: NodeJS.Signals) => {
    activeChild?.kill('SIGKILL');
    fs.rmSync(scratchRoot, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const targets: [string, boolean | undefined, string][] = [];
    if (only === '' || only === 'small') {
      const lib = await library({ name: `small-${tracks}x1s`, tracks, seconds: 1, maxFfmpegTracks: 200 });
      warmPageCache(lib);
      const r = await benchLibrary(lib, present, runs, touchEvery, scratchRoot);
      const ours = r.get('soniquebay scan');
      if (ours) {
        const beetsRatio = pairedRatio(r, 'beets import -A', 'first');
        const mpdRatio = pairedRatio(r, 'mpd', 'first');
        const rescan = pairedRatio(r, 'mpd', 'unchanged');
        const rss = Math.max(...ours.flatMap((x) => PHASES.map((p) => x[p]!.peakRssKiB)));
        targets.push(['first scan, small files: >= 10x beets import -A', Number.isNaN(beetsRatio) ? undefined : beetsRatio >= 10, `${fmt(beetsRatio, 2)}x`]);
        targets.push(['first scan, small files: >= 0.8x mpd', Number.isNaN(mpdRatio) ? undefined : mpdRatio >= 0.8, `${fmt(mpdRatio, 2)}x`]);
        targets.push(["unchanged rescan: <= 2x mpd's wall time", Number.isNaN(rescan) ? undefined : 1 / rescan <= 2, `${fmt(1 / rescan, 2)}x mpd's time (${fmt(median(ours.map((x) => x.unchanged!.wallMs / 1000)), 2)} s)`]);
        targets.push(['peak RSS < 150 MiB (every phase, every round)', rss < 150 * 1024, `${mib(rss)} MiB`]);
      }
    }
    if (only === '' || only === 'long') {
      const lib = await library({ name: `long-${longTracks}x${longSeconds}s`, tracks: longTracks, seconds: longSeconds, maxFfmpegTracks: 40 });
      warmPageCache(lib);
      const r = await benchLibrary(lib, present, runs, touchEvery, scratchRoot);
      const beetsRatio = pairedRatio(r, 'beets import -A', 'first');
      targets.push(['first scan, full-length tracks: >= 2x beets import -A', Number.isNaN(beetsRatio) ? undefined : beetsRatio >= 2, `${fmt(beetsRatio, 2)}x`]);
    }
    console.log(`\n## targets (load at end ${load()})`);
    console.log(table(['target', 'result', 'measured (median of paired ratios)'], targets.map(([what, met, measured]) => [what, met === undefined ? 'not measured' : verdict(met), measured]), true));
  } finally {
    fs.rmSync(scratchRoot, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
