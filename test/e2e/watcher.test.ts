import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import type { WorkerHandle } from '../../src/broker/port.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { LibraryWatcher, networkFileSystem } from '../../src/services/watcher.js';
import { testLogger } from '../helpers/brokers.js';
import { scan } from '../helpers/runtimes.js';

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

describe('library watcher', () => {
  let dir: string;
  let manifest: FixtureManifest;
  let runtime: Runtime;
  let worker: WorkerHandle;
  let watcher: LibraryWatcher;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-watch-'));
    manifest = await generateLibrary({ tracks: 20, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
    runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false, analysis: false, libraryRoots: [manifest.root] }, testLogger);
    await scan(runtime, manifest.root);
    worker = await runtime.broker.startWorker();
    watcher = new LibraryWatcher(runtime, { debounceMs: 300 });
    await watcher.start();
  });
  after(async () => {
    await watcher.close();
    await worker.close();
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const trackPaths = async () => new Set((await runtime.database.db.selectFrom('tracks').select('path').where('missing_since', 'is', null).execute()).map((t) => t.path));

  it('watches a local root, then scans it when a file is added, and again when one is deleted', async () => {
    assert.deepEqual(watcher.status(), [{ root: manifest.root, mode: 'watch' }]);
    const source = manifest.files.find((f) => f.path.endsWith('.mp3') && f.expect === 'track')!.path;
    const folder = path.join(manifest.root, 'New Artist', 'New Album');
    fs.mkdirSync(folder, { recursive: true });
    const added = path.join(folder, '01 - added.mp3');
    fs.copyFileSync(source, added);
    await until(async () => (await trackPaths()).has(added), 'the new file to become a track');
    fs.rmSync(source);
    await until(async () => !(await trackPaths()).has(source), 'the track of the deleted file to be missing');
    const scans = await runtime.database.db.selectFrom('scans').select('status').execute();
    assert.ok(scans.length >= 3 && scans.every((s) => s.status === 'completed'), JSON.stringify(scans));
  });

  it('scans network mounts periodically instead of watching them', async () => {
    assert.equal(networkFileSystem(0x6969), 'nfs');
    assert.equal(networkFileSystem(0xff534d42), 'cifs');
    assert.equal(networkFileSystem(0xef53), null, 'ext4 is watched');
    const polled = new LibraryWatcher(runtime, { statfsType: () => 0xfe534d42, pollMinutes: 30 });
    await polled.start();
    try {
      assert.deepEqual(polled.status(), [{ root: manifest.root, mode: 'poll', reason: 'smb2 file system: change notifications do not arrive' }]);
    } finally {
      await polled.close();
    }
  });
});
