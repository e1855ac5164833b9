import { Command } from 'commander';
import { ANALYSIS_VERSION } from '../services/analysis/analyse_file.js';
import { LOW_KEY_CONFIDENCE } from '../services/analysis/key.js';
import { currentAnalyses } from '../workers/metadata/audio_analysis.js';
import { openLibrary, withRuntime } from './context.js';
import { positive } from './jobs.js';
import { printJson, printLine, printTable, status } from './output.js';

const PER_JOB = 10;

export function analyzeCommand(): Command {
  return new Command('analyze')
    .description('audio analysis (BPM, key, loudness, features) of tracks without a current one, or all, or those named')
    .option('--all', 'every track, analysed or not')
    .option('--missing', 'tracks without an analysis of the current version (the default)')
    .option('--track <id...>', 'only these track ids')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { all?: boolean; missing?: boolean; track?: string[]; json?: boolean }, command: Command) => {
      const runtime = await openLibrary(command);
      const { db } = runtime.database;
      try {
        let query = db.selectFrom('tracks').leftJoin('track_analysis', 'track_analysis.track_id', 'tracks.id').select('tracks.id').orderBy('tracks.id');
        if (opts.track) query = query.where('tracks.id', 'in', opts.track.map((v) => positive(v, '--track')));
        else if (!opts.all) query = query.where((eb) => eb.or([eb('track_analysis.version', 'is', null), eb('track_analysis.version', '!=', ANALYSIS_VERSION)]));
        const ids = (await query.execute()).map((r) => r.id);
        // Tracks whose analysis is current are analysed again only when asked for (--all, --track). The
        // others may already have a job waiting (a scan queues one for every new or changed track): ours
        // and that one each analyse a track only if the other has not, so each is analysed once.
        const again = new Set(opts.all || opts.track ? await currentAnalyses(db, ids) : []);
        const refs = [];
        for (const [group, skipCurrent] of [[ids.filter((id) => again.has(id)), false], [ids.filter((id) => !again.has(id)), true]] as const) {
          for (let i = 0; i < group.length; i += PER_JOB) refs.push(await runtime.broker.enqueue('metadata.analyze_audio_batch', { trackIds: group.slice(i, i + PER_JOB), skipCurrent }));
        }
        const worker = await runtime.broker.startWorker({ queues: ['metadata'] });
        const started = Date.now();
        let analysed = 0;
        let failed = 0;
        let current = 0;
        let batches = 0;
        const show = () => {
          const seconds = (Date.now() - started) / 1000;
          const before = current > 0 ? `, ${current} by jobs queued before` : '';
          status.update(`analysing ${ids.length} track(s): ${batches}/${refs.length} batches, ${analysed} analysed${before}, ${failed} failed, ${(analysed / Math.max(0.001, seconds)).toFixed(2)} tracks/s, ${Math.round(seconds)} s`);
        };
        // the first batch takes a while (each decodes and analyses ten tracks): the line moves meanwhile
        const ticker = opts.json ? undefined : setInterval(show, 500);
        if (!opts.json) show();
        try {
          for (const ref of refs) {
            const job = await runtime.broker.waitForJob(ref.id, 24 * 3_600_000);
            const result = (job?.result ?? {}) as { analysed?: number; failed?: number; current?: number };
            analysed += result.analysed ?? 0;
            current += result.current ?? 0;
            failed += result.failed ?? (job?.state === 'failed' ? PER_JOB : 0);
            batches++;
          }
        } finally {
          clearInterval(ticker);
        }
        if (!opts.json) show();
        status.done();
        await worker.close();
        // current: analysed by a job queued before this command's, while this one waited
        const summary = { tracks: ids.length, analysed, current, failed, seconds: Math.round((Date.now() - started) / 100) / 10 };
        if (opts.json) printJson(summary);
        else printLine(`${summary.tracks} track(s): ${analysed} analysed${current > 0 ? ` (and ${current} by jobs queued before)` : ''}, ${failed} failed in ${summary.seconds} s`);
        if (failed > 0) throw new Error(`${failed} track(s) could not be analysed: soniquebay jobs list --queue metadata`);
      } finally {
        await runtime.close();
      }
    });
}

export function trackCommand(): Command {
  return new Command('track')
    .description('one track: its tags, its analysis, its images, and where each value came from')
    .argument('<id>', 'track id (see soniquebay tracks)')
    .option('--json', 'print JSON')
    .action(async (idText: string, opts: { json?: boolean }, command: Command) => {
      const id = positive(idText, 'track id');
      await withRuntime(command, async ({ database: { db } }) => {
        const track = await db.selectFrom('tracks').selectAll().where('id', '=', id).executeTakeFirst();
        if (!track) throw new Error(`no track ${id}`);
        const album = track.album_id === null ? undefined : await db.selectFrom('albums').select(['title', 'year']).where('id', '=', track.album_id).executeTakeFirst();
        const analysis = await db.selectFrom('track_analysis').selectAll().where('track_id', '=', id).executeTakeFirst();
        const genres = await db.selectFrom('track_genres').innerJoin('genres', 'genres.id', 'track_genres.genre_id').select('genres.name').where('track_genres.track_id', '=', id).execute();
        const covers = await db.selectFrom('covers').select(['entity_type', 'source', 'hash', 'width', 'height']).where((eb) => eb.or([eb.and([eb('entity_type', '=', 'track'), eb('entity_id', '=', id)]), ...(track.album_id !== null ? [eb.and([eb('entity_type', '=', 'album'), eb('entity_id', '=', track.album_id)])] : [])])).execute();
        const work = await db.selectFrom('work_state').select(['stage', 'status', 'attempts', 'last_error']).where('entity_type', '=', 'track').where('entity_id', '=', id).execute();
        const fromTags = { bpm: track.bpm_tag, key: track.key_tag, replayGainTrack: track.rg_track_gain, replayGainAlbum: track.rg_album_gain, acousticBrainz: track.ab_tags ? (JSON.parse(track.ab_tags) as Record<string, string>) : {} };
        const report = { track: { ...track, album: album?.title ?? null, genres: genres.map((g) => g.name) }, analysis: analysis ? { ...analysis, features: analysis.features ? (JSON.parse(analysis.features) as unknown) : null } : null, fromTags, covers, work };
        if (opts.json) return printJson(report);
        printLine(`${track.id}  ${track.artist_display} — ${track.title}  (${album?.title ?? 'no album'}${album?.year ? `, ${album.year}` : ''})`);
        printLine(`${track.path}`);
        printLine(`${formatName(track.format, track.codec)}, ${track.duration?.toFixed(1) ?? '?'} s, ${track.sample_rate ?? '?'} Hz, ${track.channels ?? '?'} ch; genres: ${genres.map((g) => g.name).join(', ') || '-'}`);
        printTable(
          ['value', 'analysis', 'from tags'],
          [
            ['BPM', analysis?.bpm != null ? `${analysis.bpm}${analysis.bpm_alternative != null ? ` or ${analysis.bpm_alternative}` : ''} (confidence ${analysis.bpm_confidence})` : '-', fromTags.bpm ?? fromTags.acousticBrainz['ab:lo:rhythm:bpm'] ?? '-'],
            ['key', analysis?.key ? `${analysis.key} ${analysis.scale} (${analysis.camelot}, confidence ${analysis.key_confidence}${(analysis.key_confidence ?? 0) < LOW_KEY_CONFIDENCE ? ', uncertain' : ''})` : '-', fromTags.key ?? '-'],
            ['loudness', analysis?.lufs != null ? `${analysis.lufs} LUFS, true peak ${analysis.true_peak}` : '-', '-'],
            ['ReplayGain track', analysis?.rg_track_gain != null ? `${analysis.rg_track_gain} dB` : '-', fromTags.replayGainTrack != null ? `${fromTags.replayGainTrack} dB` : '-'],
            ['ReplayGain album', analysis?.rg_album_gain != null ? `${analysis.rg_album_gain} dB` : '-', fromTags.replayGainAlbum != null ? `${fromTags.replayGainAlbum} dB` : '-'],
            ['energy / danceability', analysis ? `${analysis.energy} / ${analysis.danceability}` : '-', '-'],
          ],
        );
        printLine(`images: ${covers.map((c) => `${c.entity_type} from ${c.source} (${c.width}x${c.height})`).join(', ') || 'none'}`);
        printLine(`work: ${work.map((w) => `${w.stage} ${w.status}${w.last_error ? ` (${w.last_error})` : ''}`).join('; ') || '-'}`);
      });
    });
}

/** "FLAC" and "FLAC" → "FLAC"; "MPEG" and "MPEG 1 Layer 3" → "MPEG 1 Layer 3"; "MP4" and "AAC" → "MP4 (AAC)" */
export function formatName(format: string | null, codec: string | null): string {
  if (!format) return codec ?? '?';
  if (!codec || codec.toLowerCase() === format.toLowerCase()) return format;
  return codec.toLowerCase().includes(format.toLowerCase()) ? codec : `${format} (${codec})`;
}
