import { Command } from 'commander';
import { activeModel } from '../services/vectors/store.js';
import { path as pathBetween, playlist, similar, type QueryAnswer, type SimilarFilters } from '../services/vectors/queries.js';
import { modelHealth } from '../workers/vectorization/model_watch.js';
import { withRuntime } from './context.js';
import { positive } from './jobs.js';
import { printJson, printLine, printTable } from './output.js';

/** "1990-1999", "120-", "-100" → bounds (either may be open) */
function range(value: string, flag: string): { min?: number; max?: number } {
  const m = /^\s*(\d+(?:\.\d+)?)?\s*-\s*(\d+(?:\.\d+)?)?\s*$/.exec(value);
  if (!m || (m[1] === undefined && m[2] === undefined)) throw new Error(`${flag} takes a range like 1990-1999, 120- or -100, got "${value}"`);
  return { ...(m[1] !== undefined ? { min: Number(m[1]) } : {}), ...(m[2] !== undefined ? { max: Number(m[2]) } : {}) };
}

function printAnswer(answer: QueryAnswer, json: boolean | undefined): void {
  if (json) return printJson(answer);
  if (answer.tracks.length === 0) return printLine(`no track matches (model version ${answer.version})`);
  printTable(
    ['#', 'track', 'similarity', 'artist', 'title', 'year', 'bpm'],
    answer.tracks.map((t, i) => [i + 1, t.trackId, t.similarity.toFixed(3), t.artist, t.title, t.year ?? '-', t.bpm ?? '-']),
  );
  printLine(`(model version ${answer.version})`);
}

export function similarCommand(): Command {
  return new Command('similar')
    .description('the tracks most like one track ("more like this")')
    .argument('<track>', 'track id')
    .option('-k, --count <n>', 'how many', '20')
    .option('--exclude-artist', 'not by the same artist')
    .option('--exclude-album', 'not from the same album')
    .option('--year <range>', 'years, e.g. 1990-1999')
    .option('--bpm <range>', 'BPM, e.g. 110-130')
    .option('--genre <name>', 'only this genre')
    .option('--json', 'print JSON')
    .action(async (trackText: string, opts: { count: string; excludeArtist?: boolean; excludeAlbum?: boolean; year?: string; bpm?: string; genre?: string; json?: boolean }, command: Command) => {
      const trackId = positive(trackText, 'track id');
      const k = positive(opts.count, '--count');
      const year = opts.year ? range(opts.year, '--year') : {};
      const bpm = opts.bpm ? range(opts.bpm, '--bpm') : {};
      const filters: SimilarFilters = {
        ...(opts.excludeArtist ? { excludeSameArtist: true } : {}),
        ...(opts.excludeAlbum ? { excludeSameAlbum: true } : {}),
        ...(year.min !== undefined ? { yearMin: year.min } : {}),
        ...(year.max !== undefined ? { yearMax: year.max } : {}),
        ...(bpm.min !== undefined ? { bpmMin: bpm.min } : {}),
        ...(bpm.max !== undefined ? { bpmMax: bpm.max } : {}),
        ...(opts.genre ? { genre: opts.genre } : {}),
      };
      await withRuntime(command, async (runtime) => printAnswer(await similar(runtime.database.db, runtime.vectors, trackId, k, filters), opts.json));
    });
}

export function playlistCommand(): Command {
  return new Command('playlist')
    .description('a radio from seed tracks: the seeds, then tracks close to them, no repeats, no artist twice in a row')
    .requiredOption('--seed <track...>', 'seed track ids')
    .option('--length <n>', 'tracks in all', '30')
    .option('--json', 'print JSON')
    .action(async (opts: { seed: string[]; length: string; json?: boolean }, command: Command) => {
      const seeds = opts.seed.map((s) => positive(s, '--seed'));
      const length = positive(opts.length, '--length');
      await withRuntime(command, async (runtime) => printAnswer(await playlist(runtime.database.db, runtime.vectors, seeds, length), opts.json));
    });
}

export function pathCommand(): Command {
  return new Command('path')
    .description('a smooth transition from one track to another')
    .argument('<from>', 'first track id')
    .argument('<to>', 'last track id')
    .option('--length <n>', 'tracks in all, both ends included', '10')
    .option('--json', 'print JSON')
    .action(async (fromText: string, toText: string, opts: { length: string; json?: boolean }, command: Command) => {
      const from = positive(fromText, 'from');
      const to = positive(toText, 'to');
      const length = positive(opts.length, '--length');
      await withRuntime(command, async (runtime) => printAnswer(await pathBetween(runtime.database.db, runtime.vectors, from, to, length), opts.json));
    });
}

export function vectorsCommand(): Command {
  const vectors = new Command('vectors').description('the feature model and the track vectors');
  vectors
    .command('status')
    .description('active model, coverage, a model being built')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const health = await modelHealth({ db: runtime.database.db, services: runtime.services });
        if (opts.json) return printJson(health);
        const a = health.active;
        printLine(a ? `active model v${a.version}: ${a.vectors} vectors, fitted on ${a.trackCount} tracks, ${a.ageDays.toFixed(1)} days old` : 'no active model');
        if (health.building) printLine(`building model v${health.building.version}: ${health.building.vectors}/${health.building.of} vectors`);
        printLine(`${health.readyTracks} tracks ready for vectors; coverage ${(health.coverage * 100).toFixed(1)} % (${health.missing} missing)`);
        for (const w of health.warnings) printLine(`warning: ${w}`);
      });
    });
  vectors
    .command('train')
    .description('fits a new model now and computes every vector for it (the current model serves until then)')
    .option('--reason <text>', 'recorded with the model', 'asked for on the command line')
    .option('--json', 'print JSON')
    .action(async (opts: { reason: string; json?: boolean }, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const { db } = runtime.database;
        const before = (await activeModel(db))?.version ?? null;
        const ref = await runtime.broker.enqueue('vectorization.train_model', { reason: opts.reason, force: true });
        const worker = await runtime.broker.startWorker({ queues: ['vectorization'] });
        try {
          const job = await runtime.broker.waitForJob(ref.id, 6 * 3_600_000);
          const result = (job?.result ?? {}) as { version?: number; trained?: boolean; reason?: string; tracks?: number };
          if (job?.state !== 'completed') throw new Error(`training failed: ${job?.error ?? job?.state ?? 'no answer'}`);
          if (!result.trained) throw new Error(`no model trained: ${result.reason}`);
          // the vectors of the new version are computed by the same worker; wait until it takes over
          const started = Date.now();
          for (;;) {
            const active = await activeModel(db);
            if (active && active.version === result.version) break;
            if (Date.now() - started > 6 * 3_600_000) throw new Error('the new model did not become active in 6 hours');
            await new Promise((r) => setTimeout(r, 200));
          }
          const summary = { version: result.version, previous: before, tracks: result.tracks, seconds: Math.round((Date.now() - started) / 100) / 10 };
          if (opts.json) printJson(summary);
          else printLine(`model v${summary.version} active (was ${before === null ? 'none' : `v${before}`}): ${summary.tracks} tracks vectorised`);
        } finally {
          await worker.close();
        }
      });
    });
  return vectors;
}
