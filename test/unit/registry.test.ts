import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/broker/backoff.js';
import { UnknownTaskError } from '../../src/broker/errors.js';
import { planJob, resolveTask } from '../../src/broker/resolve.js';
import { buildSchedules } from '../../src/schedules.js';
import { buildRegistry, QUEUE_NAMES, TASKS } from '../../src/tasks.js';

const registry = buildRegistry();

/** task names of the catalogue in ../shared/design/tasks.md, read from its table */
function catalogue(): { name: string; queue: string }[] {
  const file = path.resolve(import.meta.dirname, '../../../shared/design/tasks.md');
  const rows = fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^\| `[a-z_]+\.[a-z_]+` \| [a-z]+ \|/.test(l));
  return rows.map((l) => {
    const [, name = '', queue = ''] = /^\| `([^`]+)` \| ([a-z]+) \|/.exec(l) ?? [];
    return { name, queue };
  });
}

describe('task registry', () => {
  // the catalogue lives in the project's shared/ folder beside the checkout
  const catalogueMissing = !fs.existsSync(path.resolve(import.meta.dirname, '../../../shared/design/tasks.md'));
  it('declares exactly the catalogue\'s tasks, each on the catalogue\'s queue', { skip: catalogueMissing && 'no ../shared/design/tasks.md beside this checkout' }, () => {
    const expected = catalogue();
    assert.ok(expected.length >= 19);
    // beyond the catalogue: the purge of missing tracks (issue 17); the SoniqueBay drop-in's sink and
    // the calls SoniqueBay's API sends (issue 20); cover sizes rendered after the scan (issue 18)
    const added = ['deferred.render_images', 'maintenance.purge_missing_tracks', 'soniquebay.sync', 'soniquebay.process_artist_images', 'soniquebay.process_album_covers', 'soniquebay.extract_embedded', 'soniquebay.analyze_track', 'lastfm.fetch_artist_info', 'lastfm.fetch_similar_artists'];
    assert.deepEqual(
      TASKS.filter((t) => !added.includes(t.name)).map((t) => ({ name: t.name, queue: t.queue })).sort((a, b) => a.name.localeCompare(b.name)),
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it('routes every task to a known queue and names tasks worker_type.function_name', () => {
    for (const task of TASKS) {
      assert.ok((QUEUE_NAMES as readonly string[]).includes(task.queue), task.name);
      assert.match(task.name, /^[a-z]+\.[a-z_]+$/);
    }
  });

  it('maps every legacy name to a declared task', () => {
    assert.equal(registry.aliases.get('scan_music_task')?.target, 'scan.discovery');
    assert.equal(registry.aliases.get('calculate_vector')?.target, 'vectorization.calculate_vector');
    for (const alias of registry.aliases.values()) assert.ok(registry.tasks.has(alias.target), alias.name);
  });

  it('adapts old payload shapes in the alias table', () => {
    assert.deepEqual(resolveTask(registry, 'scan_music_task', { directory: '/music', progressCallback: null }).payload, { root: '/music' });
    assert.deepEqual(resolveTask(registry, 'analyze_audio_with_librosa', { trackId: 7, filePath: '/x.mp3' }).payload, { trackIds: [7] });
    assert.deepEqual(resolveTask(registry, 'trigger_vectorizer_retrain', { options: { trigger_reason: 'new genres', force: true } }).payload, {
      reason: 'new genres',
      force: true,
    });
    // a Python insert stage's tracks (metadata dicts, contract §4.3) are read again from their files
    assert.deepEqual(resolveTask(registry, 'insert.direct_batch', { insertionData: { artists: [], tracks: [{ path: '/a.flac', title: 'A' }] } }).payload, { paths: ['/a.flac'] });
    assert.throws(() => resolveTask(registry, 'insert.direct_batch', { insertionData: { tracks: [] } }), /paths/);
    // SoniqueBay's beat entries (contract §1.4) run our periodic tasks
    assert.deepEqual(resolveTask(registry, 'backend_worker.tasks.maintenance_tasks.cleanup_expired_tasks_task', { maxAgeSeconds: 86_400 }).payload, { olderThanDays: 1 });
    assert.equal(resolveTask(registry, 'backend_worker.tasks.maintenance_tasks.generate_daily_health_report_task', {}).def.name, 'maintenance.health_report');
    assert.deepEqual(resolveTask(registry, 'worker_deferred_enrichment.process_enrichment_batch', { batch_size: 5 }).payload, { limit: 5 });
  });

  it('suggests the right name for a near miss', () => {
    assert.throws(() => resolveTask(registry, 'discovery', {}), (err: unknown) => err instanceof UnknownTaskError && /did you mean "scan\.discovery"/.test(err.message));
  });

  it('fills payload defaults and checks enqueue options', () => {
    assert.deepEqual(resolveTask(registry, 'deferred.cleanup_expired', {}).payload, { olderThanDays: 7 });
    const stub = { ...registry, tasks: new Map([...registry.tasks].map(([k, t]) => [k, { ...t, handler: async () => null }])) };
    assert.equal(planJob(stub, 'deferred.process_covers_batch', {}).priority, 10);
    assert.throws(() => planJob(stub, 'scan.discovery', { root: '/m' }, { priority: -1 }), /priority must be an integer/);
    assert.throws(() => planJob(stub, 'scan.discovery', { root: '/m' }, { jobId: '123' }), /not only digits/);
    assert.throws(() => planJob(stub, 'scan.discovery', { root: '/m' }, { jobId: 'a:b' }), /jobId/);
  });

  it('computes capped exponential backoff', () => {
    const policy = { baseMs: 1_000, factor: 3, capMs: 20_000 };
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(policy, n)), [1_000, 3_000, 9_000, 20_000]);
  });

  it('builds the periodic schedule with overrides and refuses unknown entries', () => {
    const schedules = buildSchedules({ 'cleanup-expired': { cron: '30 3 * * *' }, 'health-report': { enabled: false } }, 'Europe/Paris');
    assert.equal(schedules.find((s) => s.id === 'cleanup-expired')?.cron, '30 3 * * *');
    assert.equal(schedules.some((s) => s.id === 'health-report'), false);
    assert.ok(schedules.every((s) => s.timezone === 'Europe/Paris' && registry.tasks.has(s.task)));
    assert.throws(() => buildSchedules({ 'no-such-entry': {} }, 'UTC'), /no such periodic task/);
  });
});
