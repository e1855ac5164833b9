import { Command } from 'commander';
import { countTracks, missingTracks, searchTracks } from '../services/library/search.js';
import { MISSING_GRACE_DAYS, purgeMissing } from '../workers/maintenance/purge_missing.js';
import { positive } from './jobs.js';
import { withRuntime } from './context.js';
import { printJson, printLine, printPage, printTable } from './output.js';

export function libraryCommand(): Command {
  const library = new Command('library').description('what the library database holds');

  library
    .command('stats')
    .description('tracks, albums, artists, genres, total duration and size, unreadable files, last scans')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database: { db } }) => {
        const count = async (table: 'albums' | 'artists' | 'genres' | 'scan_errors' | 'library_roots') =>
          Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
        const countTracks = async (missing: 'is' | 'is not') =>
          Number((await db.selectFrom('tracks').select((eb) => eb.fn.countAll().as('n')).where('missing_since', missing, null).executeTakeFirstOrThrow()).n);
        const totals = await db
          .selectFrom('tracks')
          .select((eb) => [eb.fn.sum<number>('duration').as('seconds'), eb.fn.sum<number>('file_size').as('bytes')])
          .executeTakeFirstOrThrow();
        const stats = {
          roots: await count('library_roots'),
          tracks: await countTracks('is'),
          missingTracks: await countTracks('is not'),
          albums: await count('albums'),
          artists: await count('artists'),
          genres: await count('genres'),
          unreadableFiles: await count('scan_errors'),
          hours: Math.round((Number(totals.seconds ?? 0) / 3600) * 10) / 10,
          gigabytes: Math.round((Number(totals.bytes ?? 0) / 1e9) * 100) / 100,
          lastScans: await db.selectFrom('scans').select(['id', 'root_path', 'status', 'started_at', 'finished_at', 'discovered', 'failed']).orderBy('started_at', 'desc').limit(5).execute(),
        };
        if (opts.json) return printJson(stats);
        printLine(`${stats.tracks} tracks${stats.missingTracks > 0 ? ` (and ${stats.missingTracks} missing: soniquebay library missing)` : ''}, ${stats.albums} albums, ${stats.artists} artists, ${stats.genres} genres in ${stats.roots} root(s)`);
        printLine(`${stats.hours} hours, ${stats.gigabytes} GB; ${stats.unreadableFiles} unreadable file(s)`);
        for (const s of stats.lastScans) printLine(`scan ${s.id}  ${s.status}  ${new Date(s.started_at).toISOString()}  ${s.discovered} files, ${s.failed} failed  ${s.root_path}`);
      });
    });

  library
    .command('errors')
    .description('files that could not be read, with the reason')
    .option('--limit <n>', 'at most this many', (v) => positive(v, '--limit'), 100)
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database: { db } }) => {
        const rows = await db.selectFrom('scan_errors').select(['path', 'stage', 'message', 'created_at']).orderBy('path').limit(opts.limit).execute();
        if (opts.json) return printJson(rows);
        if (rows.length === 0) return printLine('no unreadable files');
        printTable(['stage', 'reason', 'path'], rows.map((r) => [r.stage, r.message, r.path]));
        printPage(rows.length, 0, Number((await db.selectFrom('scan_errors').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
      });
    });

  library
    .command('missing')
    .description(`tracks whose file has gone: kept with their id, analysis and vectors (hidden elsewhere) until purged after ${MISSING_GRACE_DAYS} days`)
    .option('--limit <n>', 'at most this many', (v) => positive(v, '--limit'), 100)
    .option('--json', 'print JSON')
    .action(async (opts: { limit: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database: { db } }) => {
        const rows = await missingTracks(db, { limit: opts.limit, offset: 0 });
        if (opts.json) return printJson(rows);
        if (rows.length === 0) return printLine('no missing tracks');
        printTable(['id', 'missing since', 'path'], rows.map((r) => [r.id, new Date(r.missingSince!).toISOString(), r.path]));
      });
    });

  library
    .command('purge-missing')
    .description('deletes missing tracks for good (with their analysis, vectors and covers)')
    .option('--older-than-days <n>', 'only those missing for longer than this (default: all)', (v) => nonNegative(v, '--older-than-days'), 0)
    .option('--json', 'print JSON')
    .action(async (opts: { olderThanDays: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database: { db } }) => {
        const purged = await purgeMissing(db, Date.now() - opts.olderThanDays * 86_400_000);
        if (opts.json) return printJson({ purged });
        printLine(`${purged} missing track(s) purged`);
      });
    });
  return library;
}

export function tracksCommand(): Command {
  return new Command('tracks')
    .description('tracks of the library, optionally matching a search on title, artist or album')
    .option('--search <text>', 'words that must appear in the title, artist or album')
    .option('--limit <n>', 'at most this many', (v) => positive(v, '--limit'), 50)
    .option('--offset <n>', 'skip this many first', (v) => (v === '0' ? 0 : positive(v, '--offset')), 0)
    .option('--json', 'print JSON')
    .action(async (opts: { search?: string; limit: number; offset: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database: { db } }) => {
        const rows = await searchTracks(db, opts.search, { limit: opts.limit, offset: opts.offset });
        if (opts.json) return printJson(rows);
        const total = await countTracks(db, opts.search);
        if (rows.length === 0) return printLine(total > 0 ? `no tracks past ${opts.offset} (${total} in all)` : 'no tracks');
        printTable(['id', 'artist', 'album', '#', 'title', 'bpm', 'key'], rows.map((r) => [r.id, r.artist, r.album ?? '', r.trackNo ?? '', r.title, r.bpm != null ? Math.round(r.bpm) : '-', r.key ? `${r.key} ${r.scale ?? ''}`.trim() : '-']));
        printPage(rows.length, opts.offset, total);
      });
    });
}

function nonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number of days (0 or more)`);
  return n;
}
