// What the installed command loads before it works. An unchanged rescan of 10,000 files takes
// ~0.3 s, and half of it was start-up: every library a command never uses, every ICU service built
// at load, is paid at every start. The built command (bin/soniquebay.js → dist/, as `npm ci` builds
// it) is run with a preload that records the CommonJS modules and native addons it loads and the
// ICU services it builds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generateLibrary } from '../../scripts/fixtures.js';
import { BUILT_CLI } from '../helpers/chaos.js';

const SOURCE_CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');

/** CommonJS preload: at exit, writes what was loaded and which ICU services were built to $SB_STARTUP_REPORT */
const RECORDER = `
const fs = require('node:fs');
const built = [];
for (const name of ['Segmenter', 'Collator']) {
  const Original = Intl[name];
  Intl[name] = new Proxy(Original, { construct(target, args) { built.push('Intl.' + name); return Reflect.construct(target, args); } });
}
// threads: the scan's parse thread is where music-metadata (bundled, so not in require.cache) loads
const threads = [];
const workerThreads = require('node:worker_threads');
const Worker = workerThreads.Worker;
workerThreads.Worker = class extends Worker { constructor(file, options) { threads.push(String(file)); super(file, options); } };
const localeCompare = String.prototype.localeCompare;
String.prototype.localeCompare = function (...args) { built.push('localeCompare'); return localeCompare.apply(this, args); };
process.on('exit', () => {
  fs.writeFileSync(process.env.SB_STARTUP_REPORT, JSON.stringify({ modules: Object.keys(require.cache), built: [...new Set(built)], threads }));
});
`;

/**
 * libraries the scan and the version never use: vectors, analysis, images, the distributed runtime,
 * the API, the watcher. music-metadata is bundled (scripts/build.mjs) and loads in the parse thread,
 * which neither may start.
 */
const NOT_AT_START = ['usearch', 'fft.js', 'sharp', 'image-size', 'bullmq', 'ioredis', 'pg', 'fastify', 'chokidar'];

interface Report {
  modules: string[];
  built: string[];
  /** the files of the worker threads started */
  threads: string[];
}

function run(dir: string, cli: string[], args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string; report: Report } {
  const recorder = path.join(dir, 'recorder.cjs');
  fs.writeFileSync(recorder, RECORDER);
  const reportFile = path.join(dir, 'report.json');
  fs.rmSync(reportFile, { force: true });
  const result = spawnSync(process.execPath, ['--require', recorder, ...cli, ...args], {
    env: { ...process.env, SONIQUEBAY_LOG_LEVEL: '', SB_STARTUP_REPORT: reportFile, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, report: JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report };
}

function packagesIn(modules: string[]): Set<string> {
  const found = new Set<string>();
  for (const file of modules) {
    const match = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file);
    if (match) found.add(match[1]!.replace('\\', '/'));
  }
  return found;
}

describe('start-up of the installed command', () => {
  it('`--version` and an unchanged rescan load no library they do not use and build no ICU service', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-startup-'));
    try {
      const library = path.join(dir, 'music');
      await generateLibrary({ tracks: 12, out: library, maxFfmpegTracks: 2 });
      const env = { SONIQUEBAY_DATA_DIR: path.join(dir, 'data') };

      const version = run(dir, [BUILT_CLI], ['--version'], env);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^\d+\.\d+\.\d+/);

      const first = run(dir, [BUILT_CLI], ['scan', library, '--json'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.ok((JSON.parse(first.stdout) as { inserted: number }).inserted > 0, 'the first scan inserts the library');
      assert.ok(first.report.threads.some((file) => file.endsWith('parse_thread.js')), `the first scan parses in its thread: ${first.report.threads.join(', ')}`);

      const rescan = run(dir, [BUILT_CLI], ['scan', library, '--json'], env);
      assert.equal(rescan.code, 0, rescan.stderr);
      const summary = JSON.parse(rescan.stdout) as { discovered: number; unchanged: number };
      assert.ok(summary.discovered > 0 && summary.unchanged === summary.discovered, `the rescan finds every file unchanged: ${rescan.stdout}`);

      for (const [what, report] of [['--version', version.report], ['unchanged rescan', rescan.report]] as const) {
        const loaded = packagesIn(report.modules);
        assert.deepEqual(NOT_AT_START.filter((p) => loaded.has(p)), [], `${what} loaded libraries it does not use`);
        assert.deepEqual(report.built, [], `${what} built ICU services (Intl.Segmenter, Intl.Collator, localeCompare cost ~10 ms each at their first use)`);
        // the walk thread (walk_prefetch.ts) is the scan's own walk; the others load music-metadata or the analysis
        assert.deepEqual(report.threads.filter((file) => !file.endsWith('walk_thread.js')), [], `${what} started threads (the parse thread loads music-metadata)`);
      }
      assert.deepEqual(version.report.threads, [], '`--version` walks nothing');
      assert.ok(rescan.report.threads.some((file) => file.endsWith('walk_thread.js')), `the rescan walks its folder in a thread while the program loads: ${rescan.report.threads.join(', ')}`);
      // the scan's own libraries are there, so the recorder sees what the command loads
      assert.ok(packagesIn(rescan.report.modules).has('better-sqlite3'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built command measures table cells as the sources do (its string-width builds its segmenter on first use)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-startup-'));
    try {
      const built = run(dir, [BUILT_CLI], ['tasks']);
      const source = run(dir, ['--import', 'tsx', SOURCE_CLI], ['tasks']);
      assert.equal(built.code, 0, built.stderr);
      assert.equal(source.code, 0, source.stderr);
      assert.ok(built.stdout.split('\n').length > 10, 'a table of the tasks');
      assert.equal(built.stdout, source.stdout);
      assert.ok(built.report.built.includes('Intl.Segmenter'), 'printing a table measures its cells with the segmenter');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
