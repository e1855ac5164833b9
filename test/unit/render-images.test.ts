// deferred.render_images: renders what the scan stored without its display sizes, passes over a
// picture it cannot render (never blocking the ones behind it), goes on in one more job when there
// is more, and is queued once however many covers batches ask.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import type { TaskContext } from '../../src/tasks/define.js';
import { withCoverWrites } from '../../src/workers/covers/links.js';
import { queueRenders, renderImages } from '../../src/workers/deferred/render_images.js';
import { testLogger, testServices } from '../helpers/brokers.js';

async function setup() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-render-'));
  const handle = openDatabase({ dataDir });
  await migrateToLatest(handle.db, handle.dialect);
  const services = testServices(dataDir);
  const queued: { name: string; jobId?: string }[] = [];
  const enqueue = async (name: string, _payload: unknown, options?: { jobId?: string }) => {
    // as both brokers do: an id that exists is the existing job
    if (!(options?.jobId && queued.some((q) => q.jobId === options.jobId))) queued.push({ name, ...(options?.jobId ? { jobId: options.jobId } : {}) });
    return { id: `deferred:${queued.length}`, name, queue: 'deferred' };
  };
  const ctx = { db: handle.db, services, log: testLogger, enqueue, signal: new AbortController().signal } as unknown as TaskContext;
  return { handle, services, ctx, queued, dataDir };
}

const picture = (colour: string) => sharp({ create: { width: 300, height: 200, channels: 3, background: colour } }).jpeg().toBuffer();

describe('deferred.render_images', () => {
  it('renders the stored pictures, passes over a damaged one without blocking the others, and records each as done', async () => {
    const { handle, services, ctx, queued } = await setup();
    const { db } = handle;
    const stored = [];
    for (const [i, colour] of ['#a00', '#0a0', '#00a'].entries()) {
      const image = await services.images.put(await picture(colour));
      await withCoverWrites(db, async ({ links }) => links.link(image, 'album', i + 1, 'folder'));
      stored.push(image);
    }
    // the oldest picture's original is damaged on disk after it was stored
    const damaged = stored[0]!;
    const original = services.images.fileOf(damaged.hash, 'original.jpg');
    fs.writeFileSync(original, Buffer.from('not a picture any more'));
    await db.updateTable('images').set({ created_at: 1 }).where('hash', '=', damaged.hash).execute();

    await queueRenders(db, ctx.enqueue);
    await queueRenders(db, ctx.enqueue);
    assert.equal(queued.length, 1, 'two covers batches asking: one job');

    const first = await renderImages({ limit: 2 }, ctx);
    assert.deepEqual(first, { rendered: 1, failed: 1, more: true });
    assert.equal(queued.length, 2, 'more to do: one more job');
    const second = await renderImages({ limit: 2 }, ctx);
    assert.deepEqual(second, { rendered: 1, failed: 0, more: false });
    assert.deepEqual(await db.selectFrom('images').select('hash').where('rendered_at', 'is', null).execute(), []);
    for (const image of stored.slice(1)) {
      assert.ok(fs.existsSync(services.images.renditionPath(image.hash, 512, 'jpeg')), 'display sizes on disk');
    }
    assert.ok(!fs.existsSync(services.images.renditionPath(damaged.hash, 512, 'jpeg')));
    await handle.close();
  });
});
