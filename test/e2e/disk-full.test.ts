// Disk full (issue 17), embedded runtime: the SQLite data folder is a small tmpfs (2 MiB). The scan command
// fails within 60 s with "disk full" and a non-zero exit; once space is freed, the next scan completes
// with the whole library. A first start on a full disk fails and leaves no empty database behind.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { SQLITE_FILE_NAME } from '../../src/db/open.js';

const CLI = path.resolve('src/cli.ts');
const skip = process.getuid?.() !== 0 && process.env.CI !== 'true' ? 'needs root (mount)' : false;

function soniquebay(args: string[], dataDir: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, SONIQUEBAY_LOG_LEVEL: '', SONIQUEBAY_DATA_DIR: dataDir, SONIQUEBAY_ANALYSIS: 'false', SONIQUEBAY_OUTSIDE_LOOKUPS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`soniquebay ${args.join(' ')} did not exit within ${timeoutMs / 1000} s: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('disk full', { skip }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  const mounts: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-full-'));
    manifest = await generateLibrary({ tracks: 600, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
  });
  after(() => {
    for (const m of mounts.reverse()) execFileSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tmpfs = (name: string, size: string) => {
    const target = path.join(dir, name);
    fs.mkdirSync(target);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', target]);
    mounts.push(target);
    return target;
  };

  it('a scan on a full disk fails within 60 s with "disk full" and exits non-zero; after space is freed the next scan completes', async () => {
    // room for the schema (~0.45 MB with its search index, and the WAL while it is made), not for the library
    const data = tmpfs('data', '2m');
    const failed = await soniquebay(['scan', manifest.root, '--json'], data, 120_000);
    assert.notEqual(failed.code, 0, failed.stderr);
    const summary = JSON.parse(failed.stdout) as { status: string; lastError: string };
    assert.equal(summary.status, 'failed');
    assert.match(summary.lastError, /disk full/);
    assert.ok(failed.ms < 60_000, `took ${failed.ms} ms`);

    execFileSync('mount', ['-o', 'remount,size=256m', data]);
    const next = await soniquebay(['scan', manifest.root, '--json'], data, 180_000);
    assert.equal(next.code, 0, next.stderr);
    assert.equal((JSON.parse(next.stdout) as { status: string }).status, 'completed');
    const stats = JSON.parse((await soniquebay(['library', 'stats', '--json'], data, 60_000)).stdout) as { tracks: number; unreadableFiles: number };
    assert.equal(stats.tracks + stats.unreadableFiles, manifest.files.length, 'every file is a track or an error row');
    assert.ok(stats.tracks >= manifest.files.filter((f) => f.expect === 'track').length, 'every readable file is a track');
    assert.ok(stats.unreadableFiles <= manifest.files.filter((f) => f.expect !== 'track').length, 'no readable file is an error row');
  });

  it('`run` on a disk that fills up pauses its work with one clear line, keeps running, and resumes when space is back', async () => {
    const data = tmpfs('run', '16m');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run'], {
      env: { ...process.env, SONIQUEBAY_LOG_LEVEL: 'info', SONIQUEBAY_DATA_DIR: data, SONIQUEBAY_ANALYSIS: 'false', SONIQUEBAY_OUTSIDE_LOOKUPS: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const waitFor = async (pattern: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(stderr)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${ms / 1000} s: ${stderr.slice(-2000)}`);
        if (child.exitCode !== null) throw new Error(`run exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await waitFor(/worker started/, 60_000);
      // fill the disk up to the last 64 KiB
      const filler = path.join(data, 'filler');
      const free = fs.statfsSync(data);
      fs.writeFileSync(filler, Buffer.alloc(Math.max(0, Number(free.bavail) * Number(free.bsize) - 64 * 1024)));
      await waitFor(/disk full.*work paused/, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      assert.equal(child.exitCode, null, 'run keeps running');
      assert.equal(stderr.match(/work paused/g)?.length, 1, 'said once, not at every job');
      fs.rmSync(filler);
      await waitFor(/work resumed/, 30_000);
      // the running process does the work of a scan queued by another command
      const queued = await soniquebay(['scan', manifest.root, '--no-worker', '--json'], data, 180_000);
      assert.equal(queued.code, 0, queued.stderr);
      assert.equal((JSON.parse(queued.stdout) as { status: string }).status, 'completed');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('a first start on a full disk fails clearly and leaves no empty database behind', async () => {
    const data = tmpfs('full', '256k');
    try {
      fs.writeFileSync(path.join(data, 'filler'), Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC: full, as wanted
    }
    const result = await soniquebay(['library', 'stats', '--json'], data, 60_000);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.length > 0);
    assert.equal(fs.existsSync(path.join(data, SQLITE_FILE_NAME)), false, 'an empty database was left behind');
  });
});
