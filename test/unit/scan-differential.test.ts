// Differential test: what the scan stores for real-world files, against two second opinions
// (ffprobe and mutagen). Files: the music-metadata test-suite samples in ../shared/corpora/ (read in
// place) and long files synthesised by scripts/synth-long-audio.ts. A field is judged on a file only
// where both oracles agree with each other; reviewed exceptions are in
// test/fixtures/differential-exceptions.json, each with its reason. Prints per-field agreement.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { synthLongLibrary } from '../../scripts/synth-long-audio.js';
import { genreKey, lookupGenre } from '../../src/services/genres/normalize.js';
import type { ExtractedTrack, FileError } from '../../src/workers/scan/extracted.js';
import { extractFiles } from '../../src/workers/scan/metadata_extractor.js';
import { cleanName } from '../../src/workers/scan/names.js';
import { ffprobeRead, mutagenRead, PYTHON, type OracleRecord, type OracleTags } from '../helpers/tag-oracles.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const CORPUS = path.resolve(REPO, '../shared/corpora/music-metadata-samples');
const EXCEPTIONS_FILE = path.join(REPO, 'test/fixtures/differential-exceptions.json');

/** Every field must agree on ≥ 99 % of the files where the oracles agree, outside the exceptions (issue #16). */
const MIN_AGREEMENT = 0.99;

interface Exception {
  file: string;
  fields: string[];
  reason: string;
}

type Value = string | number | boolean | undefined;

interface Field {
  name: string;
  ours: (t: ExtractedTrack) => Value;
  oracle: (r: OracleRecord) => Value;
  /** equality of two present values */
  same?: (a: Value, b: Value) => boolean;
}

/** "A; B" and "A;B" and NUL-separated values are one list; case and spacing as written. */
function names(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(/\s*;\s*|\0/).map(cleanName).filter(Boolean);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function genres(values: readonly string[] | undefined): string | undefined {
  if (!values || values.length === 0) return undefined;
  const keys = [...new Set(values.map(genreKey))].sort();
  return keys.length > 0 ? keys.join('|') : undefined;
}

const tag = <K extends keyof OracleTags>(key: K) => (r: OracleRecord) => r.tags[key] as Value;
const within = (tolerance: number) => (a: Value, b: Value) => Math.abs(Number(a) - Number(b)) <= tolerance;
const fellBack = (t: ExtractedTrack, field: string) => t.fallbacks.includes(field);

const FIELDS: readonly Field[] = [
  { name: 'title', ours: (t) => (fellBack(t, 'title') ? undefined : t.title), oracle: (r) => names(r.tags.title) },
  { name: 'artist', ours: (t) => (fellBack(t, 'artist') ? undefined : names(t.artistDisplay)), oracle: (r) => names(r.tags.artist) },
  { name: 'album', ours: (t) => (fellBack(t, 'album') ? undefined : t.album), oracle: (r) => names(r.tags.album) },
  { name: 'albumArtist', ours: (t) => names(t.albumArtistDisplay ?? undefined), oracle: (r) => names(r.tags.albumartist) },
  { name: 'trackNo', ours: (t) => t.trackNo ?? undefined, oracle: tag('track_no') },
  { name: 'trackTotal', ours: (t) => t.trackTotal ?? undefined, oracle: tag('tracktotal') },
  { name: 'discNo', ours: (t) => t.discNo ?? undefined, oracle: tag('disc_no') },
  { name: 'discTotal', ours: (t) => t.discTotal ?? undefined, oracle: tag('disctotal') },
  { name: 'year', ours: (t) => t.year ?? undefined, oracle: tag('year') },
  // the oracles' values split only where they say a list is (";", NUL), named like the taxonomy names them
  { name: 'genres', ours: (t) => genres(t.genres), oracle: (r) => genres(r.tags.genres?.flatMap((v) => v.split(/\s*;\s*|\0/)).map((v) => lookupGenre(v)?.name ?? cleanName(v)).filter(Boolean)) },
  { name: 'duration', ours: (t) => t.duration ?? undefined, oracle: (r) => r.duration, same: within(0.5) },
  { name: 'sampleRate', ours: (t) => t.sampleRate ?? undefined, oracle: (r) => r.sampleRate },
  { name: 'channels', ours: (t) => t.channels ?? undefined, oracle: (r) => r.channels },
  { name: 'bitrate', ours: (t) => t.bitrate ?? undefined, oracle: (r) => r.bitrate, same: (a, b) => Math.abs(Number(a) - Number(b)) <= 0.1 * Number(b) },
  { name: 'mbAlbumId', ours: (t) => t.mbAlbumId ?? undefined, oracle: tag('mb_albumid') },
  { name: 'mbRecordingId', ours: (t) => t.mbRecordingId ?? undefined, oracle: tag('mb_recordingid') },
  { name: 'rgTrackGain', ours: (t) => t.rgTrackGain ?? undefined, oracle: tag('rg_track_gain'), same: within(0.01) },
  { name: 'rgAlbumGain', ours: (t) => t.rgAlbumGain ?? undefined, oracle: tag('rg_album_gain'), same: within(0.01) },
  { name: 'compilation', ours: (t) => t.compilation, oracle: (r) => r.tags.compilation ?? false },
  { name: 'picture', ours: (t) => t.pictureHash !== null, oracle: (r) => r.tags.picture ?? false },
];

function equal(field: Field, a: Value, b: Value): boolean {
  if (a === undefined || b === undefined) return a === b;
  return field.same ? field.same(a, b) : a === b;
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

async function ffprobeAll(files: readonly string[]): Promise<Map<string, OracleRecord>> {
  const out = new Map<string, OracleRecord>();
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      out.set(file, await ffprobeRead(file));
    }
  };
  await Promise.all([lane(), lane(), lane()]);
  return out;
}

async function ours(files: readonly string[]): Promise<Map<string, ExtractedTrack | FileError>> {
  const { items, errors } = await extractFiles(files);
  return new Map<string, ExtractedTrack | FileError>([...items, ...errors].map((r) => [r.path, r]));
}

const isTrack = (r: ExtractedTrack | FileError | undefined): r is ExtractedTrack => r !== undefined && !('message' in r);

function toolsMissing(): string | false {
  const missing: string[] = [];
  if (!fs.existsSync(CORPUS)) missing.push(CORPUS);
  try {
    execFileSync('ffprobe', ['-version'], { stdio: 'ignore' });
  } catch {
    missing.push('ffprobe');
  }
  try {
    execFileSync(PYTHON, ['-c', 'import mutagen'], { stdio: 'ignore' });
  } catch {
    missing.push('python3-mutagen');
  }
  if (missing.length === 0) return false;
  if (process.env.CI === 'true') throw new Error(`the differential test needs ${missing.join(', ')} (CI must install them)`);
  return `needs ${missing.join(', ')}`;
}

const skip = toolsMissing();

describe('differential: music-metadata-samples against ffprobe and mutagen', { skip }, () => {
  const files = skip ? [] : listFiles(CORPUS);
  const exceptions = JSON.parse(fs.readFileSync(EXCEPTIONS_FILE, 'utf8')) as Exception[];
  const excepted = (file: string, field: string) => exceptions.some((e) => e.file === path.relative(CORPUS, file) && (e.fields.includes(field) || e.fields.includes('*')));
  let us: Map<string, ExtractedTrack | FileError>;
  let ff: Map<string, OracleRecord>;
  let mu: Map<string, OracleRecord>;

  before(async () => {
    [us, ff, mu] = await Promise.all([ours(files), ffprobeAll(files), mutagenRead(files)]);
  });

  it('lists only real corpus files, each with a reason, in its exceptions file', () => {
    for (const e of exceptions) {
      assert.ok(fs.existsSync(path.join(CORPUS, e.file)), `exception for a file not in the corpus: ${e.file}`);
      assert.ok(e.reason.trim().length >= 10, `exception without a reason: ${e.file}`);
      assert.ok(e.fields.length > 0, `exception without fields: ${e.file}`);
    }
  });

  it('makes a track of every file ffprobe decodes, and none of a file without an audio stream', () => {
    const lost: string[] = [];
    const noise: string[] = [];
    for (const file of files) {
      const rel = path.relative(CORPUS, file);
      const mine = us.get(file);
      if (ff.get(file)!.audio && !isTrack(mine) && !excepted(file, 'track')) lost.push(`${rel}: ${mine?.message}`);
      if (!ff.get(file)!.audio && !mu.get(file)!.audio && isTrack(mine) && !excepted(file, 'track')) noise.push(rel);
    }
    console.log(`# ${files.length} files: ${[...us.values()].filter(isTrack).length} tracks, ${[...us.values()].filter((r) => !isTrack(r)).length} error rows`);
    assert.deepEqual(lost, [], 'files ffprobe decodes that became error rows');
    assert.deepEqual(noise, [], 'files without an audio stream that became tracks');
  });

  it('agrees with the oracles field by field where they agree with each other', () => {
    const failures: string[] = [];
    const lines: string[] = [];
    for (const field of FIELDS) {
      let compared = 0;
      let agreed = 0;
      let disputed = 0;
      let skipped = 0;
      const wrong: string[] = [];
      for (const file of files) {
        const a = ff.get(file)!;
        const b = mu.get(file)!;
        if (a.error || b.error || !a.audio || !b.audio) continue;
        const va = field.oracle(a);
        const vb = field.oracle(b);
        if (!equal(field, va, vb)) {
          disputed++;
          continue;
        }
        if (excepted(file, field.name)) {
          skipped++;
          continue;
        }
        compared++;
        const mine = us.get(file);
        const value = isTrack(mine) ? field.ours(mine) : '(error row)';
        if (isTrack(mine) && equal(field, value, va)) agreed++;
        else wrong.push(`${path.relative(CORPUS, file)}: ours ${JSON.stringify(value)}, oracles ${JSON.stringify(va)}`);
      }
      const ratio = compared > 0 ? agreed / compared : 1;
      const min = MIN_AGREEMENT;
      lines.push(`${field.name.padEnd(14)} ${String(agreed).padStart(4)}/${String(compared).padEnd(4)} ${(ratio * 100).toFixed(1).padStart(5)} %  (oracles disagree on ${disputed}, excepted ${skipped})`);
      if (ratio < min) failures.push(`${field.name}: ${(ratio * 100).toFixed(1)} % < ${min * 100} %\n    ${wrong.join('\n    ')}`);
      else if (wrong.length > 0) lines.push(`    ${wrong.join('\n    ')}`);
    }
    console.log(`# field agreement (ours = oracles, where ffprobe and mutagen agree)\n# ${lines.join('\n# ')}`);
    assert.deepEqual(failures, []);
  });
});

describe('differential: long synthesised files in every container', { skip }, () => {
  it('reads every one with its duration within 1 s of ffprobe, its properties and tags', async () => {
    const { files } = await synthLongLibrary();
    const paths = files.map((f) => f.path);
    const [mine, probed] = await Promise.all([ours(paths), ffprobeAll(paths)]);
    const problems: string[] = [];
    for (const f of files) {
      const name = path.basename(f.path);
      const track = mine.get(f.path);
      const probe = probed.get(f.path)!;
      if (!isTrack(track)) {
        problems.push(`${name}: ${track?.message}`);
        continue;
      }
      if (track.duration === null || probe.duration === undefined || Math.abs(track.duration - probe.duration) > 1) problems.push(`${name}: duration ${track.duration} s, ffprobe ${probe.duration} s (made ${f.seconds} s)`);
      if (track.sampleRate !== f.rate || track.channels !== f.channels) problems.push(`${name}: ${track.sampleRate} Hz × ${track.channels}, made ${f.rate} Hz × ${f.channels}`);
      // tags: what ffprobe reads back from what ffmpeg wrote (some containers hold no album, …)
      const t = probe.tags;
      const shown = [t.title ? track.title : undefined, t.artist ? track.artistDisplay : undefined, t.album ? track.album : undefined];
      if (f.tagged && (JSON.stringify(shown) !== JSON.stringify([t.title, t.artist, t.album]) || (t.artist === 'AC/DC' && track.artists.join('|') !== 'AC/DC'))) {
        problems.push(`${name}: tags ${JSON.stringify([track.title, track.artists, track.album])}, ffprobe ${JSON.stringify([t.title, t.artist, t.album])}`);
      }
      if (f.tagged && !t.title) problems.push(`${name}: ffprobe reads no tags from a tagged file (fix the synthesis)`);
      if (!f.tagged && !track.fallbacks.includes('title')) problems.push(`${name}: untagged file with title ${track.title}`);
    }
    console.log(`# ${files.length} long files (${Math.round(files.reduce((s, f) => s + f.seconds, 0) / 60)} min of audio): ${files.length - problems.length} right`);
    assert.deepEqual(problems, []);
  });
});
