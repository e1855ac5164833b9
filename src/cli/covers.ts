import { Command } from 'commander';
import type { Db } from '../db/types.js';
import { openLibrary, withRuntime } from './context.js';
import { positive } from './jobs.js';
import { printJson, printLine, printTable } from './output.js';

async function missing(db: Db, limit: number) {
  const albums = await db
    .selectFrom('albums')
    .innerJoin('artists', 'artists.id', 'albums.album_artist_id')
    .leftJoin('work_state as outside', (join) => join.onRef('outside.entity_id', '=', 'albums.id').on('outside.entity_type', '=', 'album').on('outside.stage', '=', 'cover_outside'))
    .leftJoin('work_state as local', (join) => join.onRef('local.entity_id', '=', 'albums.id').on('local.entity_type', '=', 'album').on('local.stage', '=', 'cover'))
    .select(['albums.id', 'albums.title', 'artists.name as artist', 'albums.mbid', 'outside.status as lookup', (eb) => eb.fn.coalesce('outside.last_error', 'local.last_error').as('reason')])
    .where((eb) => eb.not(eb.exists(eb.selectFrom('covers').select('covers.id').whereRef('covers.entity_id', '=', 'albums.id').where('covers.entity_type', '=', 'album'))))
    .orderBy('artists.name')
    .orderBy('albums.title')
    .limit(limit)
    .execute();
  const artists = await db
    .selectFrom('artists')
    .leftJoin('work_state', (join) => join.onRef('work_state.entity_id', '=', 'artists.id').on('work_state.entity_type', '=', 'artist').on('work_state.stage', '=', 'image_outside'))
    .select(['artists.id', 'artists.name', 'work_state.status as lookup', 'work_state.last_error as reason'])
    .where((eb) => eb.not(eb.exists(eb.selectFrom('covers').select('covers.id').whereRef('covers.entity_id', '=', 'artists.id').where('covers.entity_type', '=', 'artist'))))
    .orderBy('artists.name')
    .limit(limit)
    .execute();
  return { albums, artists };
}

export function coversCommand(): Command {
  const covers = new Command('covers').description('album covers and artist images');

  covers
    .command('missing')
    .description('albums and artists without an image, with the state of their outside lookup')
    .option('--limit <n>', 'at most this many of each', (v) => positive(v, '--limit'), 100)
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database }) => {
        const found = await missing(database.db, opts.limit);
        if (opts.json) return printJson(found);
        printLine(`${found.albums.length} album(s) without a cover`);
        if (found.albums.length > 0) printTable(['id', 'artist', 'album', 'lookup', 'reason'], found.albums.map((a) => [a.id, a.artist, a.title, a.lookup ?? (a.mbid ? '-' : 'no MBID'), a.reason ?? '']));
        printLine(`${found.artists.length} artist(s) without an image`);
        if (found.artists.length > 0) printTable(['id', 'artist', 'lookup', 'reason'], found.artists.map((a) => [a.id, a.name, a.lookup ?? '-', a.reason ?? '']));
      });
    });

  covers
    .command('fetch')
    .description('looks for art now, files first then outside providers (every album and artist without one, or those named)')
    .option('--album <id...>', 'only these album ids')
    .option('--artist <id...>', 'only these artist ids')
    .option('--no-worker', 'only queue the work: workers elsewhere do it')
    .option('--json', 'print JSON')
    .action(async (opts: { album?: string[]; artist?: string[]; worker: boolean; json?: boolean }, command: Command) => {
      // one warning per album would flood the terminal when offline: the reasons come grouped at the end
      const runtime = await openLibrary(command, 'error');
      try {
        const named = opts.album !== undefined || opts.artist !== undefined;
        const all = named ? { albums: [], artists: [] } : await missing(runtime.database.db, 100_000);
        const albumIds = named ? (opts.album ?? []).map((v) => positive(v, '--album')) : all.albums.map((a) => a.id);
        const artistIds = named ? (opts.artist ?? []).map((v) => positive(v, '--artist')) : all.artists.map((a) => a.id);
        const refs = [];
        for (let i = 0; i < albumIds.length; i += 100) refs.push(await runtime.broker.enqueue('covers.process_album_covers', { albumIds: albumIds.slice(i, i + 100), outside: true }));
        for (let i = 0; i < artistIds.length; i += 100) refs.push(await runtime.broker.enqueue('covers.extract_artist_images_batch', { artistIds: artistIds.slice(i, i + 100), outside: true }));
        if (!opts.worker) return opts.json ? printJson({ queued: refs.map((r) => r.id) }) : printLine(`${refs.length} job(s) queued`);
        const worker = await runtime.broker.startWorker({ queues: ['covers'] });
        const totals: Record<string, number> = {};
        for (const ref of refs) {
          const job = await runtime.broker.waitForJob(ref.id, 24 * 3_600_000);
          for (const [k, n] of Object.entries((job?.result ?? {}) as Record<string, number>)) totals[k] = (totals[k] ?? 0) + n;
        }
        await worker.close();
        if (opts.json) return printJson({ albums: albumIds.length, artists: artistIds.length, outcomes: totals });
        printLine(`${albumIds.length} album(s), ${artistIds.length} artist(s): ${Object.entries(totals).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing to do'}`);
        if ((totals.failed ?? 0) > 0) {
          const reasons = await runtime.database.db
            .selectFrom('work_state')
            .select(['last_error', (eb) => eb.fn.countAll().as('n')])
            .where('stage', 'in', ['cover', 'cover_outside', 'image', 'image_outside'])
            .where('status', '=', 'failed')
            .where('last_error', 'is not', null)
            .groupBy('last_error')
            .orderBy('n', 'desc')
            .limit(5)
            .execute();
          for (const r of reasons) printLine(`  ${Number(r.n)} failed: ${r.last_error}`);
          printLine('  failed lookups are retried by the deferred sweep of `soniquebay run`');
        }
      } finally {
        await runtime.close();
      }
    });
  return covers;
}
