// Same-run A/B of two builds of the scan command (`npm run bench:scan-ab`), to show that a change
// does not slow the first scan: A = the compiled CLI of another checkout (BENCH_A_DIST, its dist/),
// B = this checkout's (built first). Both scan the same cached libraries of bench:scan (files of 1 s,
// and full-length 240 s tracks), each run with a fresh data dir, contenders alternating A/B then B/A,
// BENCH_RUNS (5) runs; prints files/s, CPU seconds and peak RSS per run (GNU time), medians, the
// ratios per pair and the load average.
//   git archive <base> | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/ && (cd /tmp/base && npm run build)
//   BENCH_A_DIST=/tmp/base/dist npm run bench:scan-ab
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { intEnv, median } from './helpers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(os.tmpdir(), 'soniquebay-bench');

async function library(name: string, tracks: number, seconds: number, maxFfmpegTracks: number): Promise<string> {
  const root = path.join(CACHE, name);
  if (!fs.existsSync(path.join(root, '.fixtures.json'))) {
    fs.rmSync(root, { recursive: true, force: true });
    const { generateLibrary } = await import('../scripts/fixtures.js');
    await generateLibrary({ tracks, out: root, seconds, maxFfmpegTracks });
  }
  return root;
}

interface Run {
  filesPerSecond: number;
  wallS: number;
  /** user + system CPU seconds of the command, threads included: far less sensitive to other load than wall time */
  cpuS: number;
  peakRssMiB: number;
}

function scanOnce(cli: string, root: string): Promise<Run> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ab-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SONIQUEBAY_')) env[k] = v;
  env.SONIQUEBAY_DATA_DIR = dataDir;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    // GNU time (Debian package time) reports the CPU and peak RSS of the command
    const child = spawn('/usr/bin/time', ['-f', 'SBTIME %U %S %M', process.execPath, cli, 'scan', root, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const timed = /SBTIME ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !timed) return reject(new Error(`${cli} scan exited with ${code}: ${err.slice(-2000)}`));
      const summary = JSON.parse(out) as { filesPerSecond: number };
      resolve({ filesPerSecond: summary.filesPerSecond, wallS: (performance.now() - t0) / 1000, cpuS: Number(timed[1]) + Number(timed[2]), peakRssMiB: Number(timed[3]) / 1024 });
    });
  });
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const aDist = process.env.BENCH_A_DIST;
  if (!aDist || !fs.existsSync(path.join(aDist, 'cli.js'))) throw new Error('set BENCH_A_DIST to the dist/ of the build to compare with');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const contenders = { A: path.join(aDist, 'cli.js'), B: path.join(REPO, 'dist', 'cli.js') };
  const runs = intEnv('BENCH_RUNS', 5);
  const libraries = [
    { label: `small (${intEnv('BENCH_TRACKS', 10_000)} × 1 s)`, root: await library(`small-${intEnv('BENCH_TRACKS', 10_000)}x1s`, intEnv('BENCH_TRACKS', 10_000), 1, 40) },
    { label: `full-length (${intEnv('BENCH_LONG_TRACKS', 300)} × 240 s)`, root: await library(`long-${intEnv('BENCH_LONG_TRACKS', 300)}x240s`, intEnv('BENCH_LONG_TRACKS', 300), 240, 40) },
  ];
  console.log(`A = ${contenders.A}\nB = ${contenders.B}\nload average at start: ${load()} (${os.availableParallelism()} cores)`);
  for (const lib of libraries) {
    // page cache warm and one unmeasured round each
    for (const cli of Object.values(contenders)) await scanOnce(cli, lib.root);
    const results: Record<'A' | 'B', Run[]> = { A: [], B: [] };
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let run = 0; run < runs; run++) {
      const order: ('A' | 'B')[] = run % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
      const pair: Partial<Record<'A' | 'B', Run>> = {};
      for (const who of order) {
        const r = await scanOnce(contenders[who], lib.root);
        results[who].push(r);
        pair[who] = r;
      }
      const [a, b] = [pair.A!, pair.B!];
      ratios.push(b.filesPerSecond / a.filesPerSecond);
      cpuRatios.push(a.cpuS / b.cpuS);
      console.log(
        `  ${lib.label} run ${run + 1} (${order.join(',')}): A ${a.filesPerSecond} files/s ${a.cpuS.toFixed(1)} CPU-s ${a.peakRssMiB.toFixed(0)} MiB, B ${b.filesPerSecond} files/s ${b.cpuS.toFixed(1)} CPU-s ${b.peakRssMiB.toFixed(0)} MiB, B/A ${(b.filesPerSecond / a.filesPerSecond).toFixed(2)} (CPU A/B ${(a.cpuS / b.cpuS).toFixed(2)}), load ${load()}`,
      );
    }
    const med = (who: 'A' | 'B', key: keyof Run) => median(results[who].map((r) => r[key]));
    console.log(
      `${lib.label}: median A ${med('A', 'filesPerSecond')} files/s ${med('A', 'cpuS').toFixed(1)} CPU-s ${med('A', 'peakRssMiB').toFixed(0)} MiB; median B ${med('B', 'filesPerSecond')} files/s ${med('B', 'cpuS').toFixed(1)} CPU-s ${med('B', 'peakRssMiB').toFixed(0)} MiB; median per pair: files/s B/A ${median(ratios).toFixed(2)}, CPU A/B ${median(cpuRatios).toFixed(2)}`,
    );
  }
  console.log(`load average at end: ${load()}`);
}

await main();
