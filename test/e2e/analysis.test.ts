// Audio analysis through the real pipeline: scan, then metadata.analyze_audio_batch on files with
// known answers (a 120 BPM drum pattern, a C major progression), loudness checked against
// ffmpeg's own ebur128 filter on the same files.
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ANALYSIS_VERSION } from '../../src/services/analysis/analyse_file.js';
import { similar } from '../../src/services/vectors/queries.js';
import { outdatedAnalyses } from '../../src/workers/deferred/enrichment_deferred.js';
import { testLogger } from '../helpers/brokers.js';
import { drain, scan } from '../helpers/runtimes.js';

const RATE = 44_100;

function writeWav(file: string, left: Float32Array, right: Float32Array): void {
  const frames = left.length;
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, left[i]!)) * 32767), i * 4);
    data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, right[i]!)) * 32767), i * 4 + 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(2, 22);
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 4, 28);
  header.writeUInt16LE(4, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** kick on every beat, hi-hat on the off-beats, snare on 2 and 4 */
function drums(bpm: number, seconds: number): Float32Array {
  const out = new Float32Array(RATE * seconds);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const beat = (60 / bpm) * RATE;
  for (let b = 0; b * beat < out.length; b++) {
    const at = Math.round(b * beat);
    for (let i = 0; i < 0.25 * RATE && at + i < out.length; i++) {
      const t = i / RATE;
      out[at + i]! += 0.8 * Math.sin(2 * Math.PI * (50 + 100 * Math.exp(-t * 30)) * t) * Math.exp(-t * 12);
      if (b % 2 === 1 && i < 0.15 * RATE) out[at + i]! += 0.3 * noise() * Math.exp(-t * 25);
    }
    const off = Math.round(at + beat / 2);
    for (let i = 0; i < 0.05 * RATE && off + i < out.length; i++) out[off + i]! += 0.15 * noise() * Math.exp(-(i / RATE) * 80);
  }
  return out;
}

/** C major: I–IV–V–I, notes with a few harmonics and a root in the bass */
function progression(seconds: number): Float32Array {
  const out = new Float32Array(RATE * seconds);
  const chords = [[48, 60, 64, 67], [53, 65, 69, 72], [55, 67, 71, 74], [48, 60, 64, 67]];
  const per = out.length / chords.length;
  chords.forEach((notes, c) => {
    for (let i = 0; i < per; i++) {
      const t = i / RATE;
      let v = 0;
      for (const n of notes) {
        const f = 440 * 2 ** ((n - 69) / 12);
        for (let h = 1; h <= 4; h++) v += (Math.sin(2 * Math.PI * f * h * t) / h) * 0.08;
      }
      out[Math.floor(c * per) + i] = v * Math.exp(-t * 0.6);
    }
  });
  return out;
}

function ffmpegLoudness(file: string): number {
  const run = spawnSync('ffmpeg', ['-nostats', '-i', file, '-af', 'ebur128', '-f', 'null', '-'], { encoding: 'utf8' });
  const match = /I:\s+(-?[\d.]+) LUFS/.exec(run.stderr.slice(run.stderr.lastIndexOf('Summary:')));
  return Number(match![1]);
}

/** a fresh embedded runtime (data in `dir`/data) that has scanned `dir`/music and run every job */
async function analysedLibrary(dir: string): Promise<Runtime> {
  const runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false }, testLogger);
  await scan(runtime, path.join(dir, 'music'));
  await drain(runtime.broker);
  return runtime;
}

describe('audio analysis', () => {
  let dir: string;
  let runtime: Runtime;
  const files: Record<'drums' | 'chords', string> = { drums: '', chords: '' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-analysis-'));
    const album = path.join(dir, 'music', 'Test Artist', 'Analysis');
    fs.mkdirSync(album, { recursive: true });
    for (const [name, signal, n] of [['drums', drums(120, 24), 1], ['chords', progression(16), 2]] as const) {
      const wav = path.join(dir, `${name}.wav`);
      writeWav(wav, signal, signal);
      files[name] = path.join(album, `0${n} - ${name}.flac`);
      execFileSync('ffmpeg', ['-v', 'error', '-i', wav, '-metadata', `title=${name}`, '-metadata', 'artist=Test Artist', '-metadata', 'album=Analysis', files[name]]);
    }
    runtime = await analysedLibrary(dir);
  });
  after(async () => {
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const analysisOf = async (file: string) =>
    runtime.database.db.selectFrom('track_analysis').innerJoin('tracks', 'tracks.id', 'track_analysis.track_id').selectAll('track_analysis').where('tracks.path', '=', file).executeTakeFirstOrThrow();

  it('finds the tempo of a drum pattern and the key of a chord progression', async () => {
    const drumsRow = await analysisOf(files.drums);
    assert.ok(Math.abs(drumsRow.bpm! - 120) <= 2.4, `BPM ${drumsRow.bpm}`);
    const chordsRow = await analysisOf(files.chords);
    assert.deepEqual([chordsRow.key, chordsRow.scale, chordsRow.camelot], ['C', 'major', '8B']);
    const features = JSON.parse(chordsRow.features!) as { mfcc?: unknown; chroma: { mean: number[] } };
    assert.equal(features.chroma.mean.length, 12);
    assert.ok(drumsRow.danceability! > chordsRow.danceability!, 'drums are more danceable than sustained chords');
  });

  it('measures loudness within 0.5 LU of ffmpeg ebur128, with ReplayGain track and album gains', async () => {
    for (const file of Object.values(files)) {
      const row = await analysisOf(file);
      const reference = ffmpegLoudness(file);
      assert.ok(Math.abs(row.lufs! - reference) <= 0.5, `${path.basename(file)}: ${row.lufs} LUFS vs ffmpeg ${reference}`);
      assert.ok(Math.abs(row.rg_track_gain! - (-18 - row.lufs!)) < 0.02);
      assert.ok(row.rg_album_gain !== null, 'the album is complete: it has an album gain');
      assert.ok(row.true_peak! >= row.sample_peak! - 1e-6);
    }
  });

  it('gives both analysed tracks a vector of the first model, so each has the other as its neighbour', async () => {
    const { db } = runtime.database;
    const drums = await db.selectFrom('tracks').select('id').where('path', '=', files.drums).executeTakeFirstOrThrow();
    const chords = await db.selectFrom('tracks').select('id').where('path', '=', files.chords).executeTakeFirstOrThrow();
    const model = await db.selectFrom('vector_models').select(['version', 'track_count']).where('status', '=', 'active').executeTakeFirstOrThrow();
    assert.equal(model.track_count, 2);
    const answer = await similar(db, runtime.vectors, drums.id, 5);
    assert.deepEqual(answer.tracks.map((t) => t.trackId), [chords.id]);
  });

  it('leaves a track whose analysis is current to a job that may skip it, and analyses it again when asked', async () => {
    const { db } = runtime.database;
    const ids = (await db.selectFrom('tracks').select('id').orderBy('id').execute()).map((t) => t.id);
    const stamps = async () => (await db.selectFrom('track_analysis').select(['track_id', 'analyzed_at']).orderBy('track_id').execute()).map((r) => r.analyzed_at);
    const before = await stamps();
    const run = async (payload: { trackIds: number[]; skipCurrent?: boolean }) => {
      const ref = await runtime.broker.enqueue('metadata.analyze_audio_batch', payload);
      await drain(runtime.broker);
      return (await runtime.broker.waitForJob(ref.id, 60_000))?.result;
    };
    // a job that died after storing the analyses, before queueing the vectors: its retry finds the
    // tracks current, and still queues what follows them
    const vectors = async () => Number((await db.selectFrom('track_vectors').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const vectorCount = await vectors();
    assert.ok(vectorCount >= 2);
    await db.deleteFrom('track_vectors').execute();
    assert.deepEqual(await run({ trackIds: ids, skipCurrent: true }), { analysed: 0, failed: 0, current: 2 });
    assert.deepEqual(await stamps(), before);
    assert.equal(await vectors(), vectorCount, 'the vectors are back');
    assert.deepEqual(await run({ trackIds: ids }), { analysed: 2, failed: 0, current: 0 });
    assert.ok((await stamps()).every((stamp, i) => stamp! > before[i]!), 'analysed again');
  });

  it('analyses again, in the background, the tracks an older analysis version analysed', async () => {
    const { db } = runtime.database;
    const rows = () => db.selectFrom('track_analysis').select(['track_id', 'version', 'analyzed_at']).orderBy('track_id').execute();
    // a library analysed by the version before this one
    await db.updateTable('track_analysis').set({ version: ANALYSIS_VERSION - 1 }).execute();
    const before = await rows();
    const sweep = async () => {
      const ref = await runtime.broker.enqueue('deferred.process_enrichment_batch', { limit: 10 });
      await drain(runtime.broker);
      return ((await runtime.broker.waitForJob(ref.id, 60_000))?.result as { analysis_outdated?: number }).analysis_outdated;
    };
    assert.equal(await sweep(), 2);
    const after = await rows();
    assert.ok(after.every((r, i) => r.version === ANALYSIS_VERSION && r.analyzed_at! > before[i]!.analyzed_at!), JSON.stringify(after));
    assert.equal(await sweep(), 0, 'nothing left to catch up');
    // the sweep runs every 2 minutes: it reads the outdated rows by their index, never every analysis
    const query = outdatedAnalyses(db).limit(100).compile();
    const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]))).rows.map((r) => r.detail);
    assert.match(plan[0] ?? '', /track_analysis USING COVERING INDEX track_analysis_version/, plan.join('\n'));
    assert.ok(!plan.some((step) => /^SCAN|TEMP B-TREE/.test(step)), plan.join('\n'));
  });

  it('records a track that cannot be decoded as failed work with the reason', async () => {
    const { db } = runtime.database;
    const track = await db.selectFrom('tracks').select('id').where('path', '=', files.drums).executeTakeFirstOrThrow();
    fs.writeFileSync(files.drums, Buffer.alloc(4096, 3));
    await runtime.broker.enqueue('metadata.analyze_audio_batch', { trackIds: [track.id] });
    await drain(runtime.broker);
    const work = await db.selectFrom('work_state').select(['status', 'last_error']).where('entity_type', '=', 'track').where('entity_id', '=', track.id).where('stage', '=', 'analysis').executeTakeFirstOrThrow();
    assert.equal(work.status, 'failed');
    assert.match(work.last_error ?? '', /ffmpeg could not decode/);
  });
});

describe('audio analysis: 16-bit samples read as integers only from lossless files', () => {
  let dir: string;
  let runtime: Runtime;
  const files = { aac: '', flac: '' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-analysis-peaks-'));
    const album = path.join(dir, 'music', 'Square', 'Peaks');
    fs.mkdirSync(album, { recursive: true });
    // a square wave at 0.99: its AAC decode overshoots full scale (~1.17), a FLAC of it cannot
    const wave = 'if(lt(mod(t*220,1),0.5),0.99,-0.99)';
    const square = ['-f', 'lavfi', '-i', `aevalsrc='${wave}|${wave}':s=44100:d=3`];
    files.aac = path.join(album, '01 - square.m4a');
    files.flac = path.join(album, '02 - square.flac');
    execFileSync('ffmpeg', ['-v', 'error', ...square, '-c:a', 'aac', '-b:a', '128k', '-metadata', 'title=square aac', files.aac]);
    execFileSync('ffmpeg', ['-v', 'error', ...square, '-sample_fmt', 's16', '-metadata', 'title=square flac', files.flac]);
    runtime = await analysedLibrary(dir);
  });
  after(async () => {
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an AAC file tagged 16-bit as floats: its peaks over full scale are measured, not clipped', async () => {
    const { db } = runtime.database;
    const row = async (file: string) =>
      db.selectFrom('tracks').innerJoin('track_analysis', 'track_analysis.track_id', 'tracks.id').select(['tracks.bit_depth', 'tracks.lossless', 'track_analysis.sample_peak']).where('tracks.path', '=', file).executeTakeFirstOrThrow();
    const [aac, flac] = [await row(files.aac), await row(files.flac)];
    assert.deepEqual([aac.bit_depth, aac.lossless, flac.bit_depth, flac.lossless], [16, 0, 16, 1], 'the tags say 16 bits for both');
    assert.ok(aac.sample_peak! > 1.05, `AAC sample peak ${aac.sample_peak}`);
    assert.ok(Math.abs(flac.sample_peak! - 0.99) < 0.001, `FLAC sample peak ${flac.sample_peak}`);
  });
});
