// SoniqueBay's calls on a library without the sink: ids are ours, an unknown one is a clear
// failure (never a SUCCESS that did nothing), paths are matched exactly, and a Last.fm call without
// a key says which variable to set.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentTaskError } from '../../src/broker/errors.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { albumCoversCall, embeddedCoversCall, fetchArtistInfo } from '../../src/services/soniquebay/handlers.js';
import type { TaskContext } from '../../src/tasks/define.js';
import { testLogger, testServices } from '../helpers/brokers.js';

describe('SoniqueBay calls without the sink', () => {
  let dir: string;
  let database: DatabaseHandle;
  let ctx: TaskContext;
  const saved = process.env.SONIQUEBAY_SINK_URL;

  before(async () => {
    delete process.env.SONIQUEBAY_SINK_URL;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-calls-'));
    database = openDatabase({ dataDir: dir });
    await migrateToLatest(database.db, database.dialect);
    ctx = {
      db: database.db,
      services: testServices(dir),
      log: testLogger,
      jobId: 'covers:1',
      taskName: 'test',
      attempt: 1,
      progress: async () => undefined,
      enqueue: async (name) => ({ id: 'x:1', name, queue: 'x' }),
      jobs: { counts: async () => ({}), prune: async () => 0 },
      signal: new AbortController().signal,
    };
  });
  after(async () => {
    if (saved !== undefined) process.env.SONIQUEBAY_SINK_URL = saved;
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails an album id the library does not have, naming it', async () => {
    await assert.rejects(albumCoversCall({ albumIds: [41, 42] }, ctx), (err: unknown) => err instanceof PermanentTaskError && err.message === 'unknown album ids 41, 42: no such row in the library');
    assert.deepEqual(await albumCoversCall({ albumIds: [] }, ctx), { albums: 0 });
  });

  it('fails paths it has not scanned, saying what to do', async () => {
    await assert.rejects(embeddedCoversCall({ items: ['/music/a.mp3'] }, ctx), /no track of this library has this path: \/music\/a\.mp3 \(scan the folder first: scan\.discovery\)/);
  });

  it('a Last.fm call without a key names the variable to set', async () => {
    await assert.rejects(fetchArtistInfo({ artistId: 1 }, ctx), /Last\.fm is not configured: set SONIQUEBAY_LASTFM_API_KEY/);
  });
});
