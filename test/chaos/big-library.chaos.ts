// A big library (100,000 small files; SB_BIG_FILES to change) scanned by `soniquebay serve
// --embedded`, as a user runs it: the process's RSS must stay flat (< 250 MB) and the API must
// answer a scan-status request in < 100 ms at the 99th percentile while the scan runs. Run by
// `npm run test:chaos` (generating the files alone takes minutes).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';
import { killHard, startCli, type CliProcess } from '../helpers/chaos.js';

const FILES = Number(process.env.SB_BIG_FILES ?? 100_000);
const RSS_LIMIT_MB = 250;
const P99_LIMIT_MS = 100;

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe(`big library: ${FILES} files`, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let server: CliProcess | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-big-'));
    const started = Date.now();
    manifest = await generateLibrary({ tracks: FILES, out: path.join(dir, 'music'), maxFfmpegTracks: 50, seconds: 1 });
    console.log(`# generated ${manifest.files.length} files in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });
  after(async () => {
    if (server) await killHard(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`scans with RSS < ${RSS_LIMIT_MB} MB while a status request answers in < ${P99_LIMIT_MS} ms (p99)`, { timeout: 3 * 3_600_000 }, async () => {
    const env = { ...process.env, SONIQUEBAY_DATA_DIR: path.join(dir, 'data'), SONIQUEBAY_LIBRARY_ROOTS: manifest.root, SONIQUEBAY_OUTSIDE_LOOKUPS: 'false', SONIQUEBAY_LOG_LEVEL: 'info' };
    // the compiled program, as installed: tsx's on-the-fly compiler alone weighs ~100 MB
    server = startCli(['serve', '--embedded', '--port', '0'], env, { built: true });
    await server.logged('HTTP API listening', 60_000);
    const api = /"address":"(http:\/\/[^"]+)"/.exec(server.log())![1]!;
    const pid = server.child.pid!;

    const started = await fetch(`${api}/scans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ root: manifest.root }) });
    assert.equal(started.status, 202, await started.clone().text());
    const { scanId } = (await started.json()) as { scanId: string };
    const t0 = Date.now();

    const latencies: number[] = [];
    const rss: { at: number; mb: number; done: number }[] = [];
    let status: { status?: string; extracted?: number; failed?: number; queued?: number } = {};
    let sampled = 0;
    while (status.status === undefined || status.status === 'running') {
      const t = performance.now();
      const response = await fetch(`${api}/scans/${scanId}`);
      const body = (await response.json()) as typeof status;
      latencies.push(performance.now() - t);
      if (response.status === 200) status = body;
      if (Date.now() - sampled >= 1_000) {
        sampled = Date.now();
        rss.push({ at: (Date.now() - t0) / 1000, mb: rssMb(pid), done: (status.extracted ?? 0) + (status.failed ?? 0) });
      }
      assert.ok(Date.now() - t0 < 3 * 3_600_000, 'scan took more than 3 hours');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(status.status, 'completed', server.log().slice(-3000));
    rss.push({ at: seconds, mb: rssMb(pid), done: (status.extracted ?? 0) + (status.failed ?? 0) });
    const peak = Math.max(...rss.map((r) => r.mb));
    const quarter = (q: number) => rss[Math.min(rss.length - 1, Math.floor((q / 4) * (rss.length - 1)))]!;
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    await killHard(server);
    server = undefined;

    const runtime = await openRuntime(loadConfig(env), testLogger);
    try {
      const { db } = runtime.database;
      const count = async (table: 'tracks' | 'scan_errors') => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const tracks = await count('tracks');
      const errors = await count('scan_errors');
      assert.equal(tracks + errors, manifest.files.length, 'every file one track or one error row');
      console.log(
        `# ${manifest.files.length} files scanned in ${seconds.toFixed(0)} s (${(manifest.files.length / seconds).toFixed(0)} files/s): ${tracks} tracks, ${errors} error rows; ` +
          `RSS at 0/25/50/75/100 %: ${[0, 1, 2, 3, 4].map((q) => quarter(q).mb.toFixed(0)).join('/')} MB, peak ${peak.toFixed(0)} MB; ` +
          `status request p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} requests`,
      );
    } finally {
      await runtime.close();
    }
    assert.ok(peak < RSS_LIMIT_MB, `peak RSS ${peak.toFixed(0)} MB`);
    assert.ok(p99 < P99_LIMIT_MS, `status p99 ${p99.toFixed(1)} ms`);
  });
});
