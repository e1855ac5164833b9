// Builds the real-music accuracy set of bench/accuracy.bench.ts from MIDI that Debian packages ship,
// rendered with fluidsynth and the FluidR3 GM soundfont, and caches it outside the repository:
//   apt-get install mma fluidsynth fluid-soundfont-gm abcmidi ffmpeg
//   apt-get install --no-install-recommends simutrans-data freedink-data liquidwar-data \
//     kobodeluxe-data faust-common chuck-data
//   node --import tsx scripts/accuracy-set.ts        (prints the manifest's path)
//
// Sources (never openttd-openmsx or planetblupi-music-midi: they stay out of development):
//   mma-song    the songs `mma` ships as examples (/usr/share/doc/mma/examples/**.mid);
//   mma-groove  one 32-bar song per style of mma's standard groove library, played by mma from a
//               chord progression written here in a key and at a tempo chosen for the style;
//   abc         the folk tunes `abcmidi` ships (/usr/share/doc/abcmidi/examples), via abc2midi;
//   packaged    music that other packages ship as MIDI, composed by people, not by mma or this script
//               (added with truth version 3): the soundtracks of simutrans-data, freedink-data,
//               liquidwar-data and kobodeluxe-data, and the example pieces of faust-common and
//               chuck-data (PACKAGED_MIDI below); a package that is not installed is left out.
// Each piece also gets a variant, tempo-scaled and transposed, so that the set covers 60–200 BPM and
// all 24 keys. A piece and its variant are in the same part: one piece in three (by a hash of its
// name) is held out from development.
//
// Truth comes from the MIDI file alone (scripts/midi.ts):
//   tempo  the tempo-map tempo that covers ≥ 90 % of the piece, in quarter notes per minute, for
//          pieces in x/4 time only. Caveats: that is the written beat; a listener may feel a march in
//          cut time at half of it or a slow 4/4 in double time; 6/8 and 12/8 pieces (felt beat a
//          dotted quarter) have no tempo truth and count for key only. Nor has a piece played in
//          without a click (PLAYED_TO_GRID): its notes ignore its tempo map, which then says
//          nothing of its beat.
//   key    the key signature, when the notes confirm it: the best of the 24 keys by the notes'
//          duration-weighted pitch classes against the Krumhansl–Kessler profiles must be the
//          signature's major key or its relative minor. Which of the two is the piece's key: for an
//          mma groove, the key this script wrote it in; else the one whose tonic triad the final
//          beat holds (when it holds one of the two only), else the lowest note of the final beat
//          when it is one of the two tonics, else the signature's mode flag, else the notes'
//          better one.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dominantTempo, finalBass, finalPitchClasses, majorTonic, parseMidi, patchMidi, pitchClassWeights, secondsAt, type MidiFile } from './midi.js';

const run = promisify(execFile);

export const SET_VERSION = 1;
export const SET_DIR = path.join(os.tmpdir(), 'soniquebay-bench', `accuracy-v${SET_VERSION}`);
/**
 * Bumped when the truth changes but the audio does not: a new manifest is written and the files
 * already rendered are kept. 2: an mma groove's key is the key this script wrote it in, and
 * elsewhere the mode is read from the final chord first (version 1 took the lowest note of the last
 * beat, which was the third of the final minor chord in 23 of the 110 grooves). 3: the packaged
 * pieces added (their files rendered next to the others; the pieces of version 2 are unchanged),
 * no tempo truth for a piece played in without a click (PLAYED_TO_GRID) nor for a variant whose
 * opening the tempo patch could not scale, and the grooves played with a fixed seed (a cache built
 * before keeps its groove files, played with other random humanisation: delete mma_groove_* to
 * render them as the truth now reads them).
 */
export const TRUTH_VERSION = 3;
const MANIFEST = path.join(SET_DIR, `manifest-truth${TRUTH_VERSION}.json`);
const SOUNDFONT = '/usr/share/sounds/sf2/FluidR3_GM.sf2';
const MMA_EXAMPLES = '/usr/share/doc/mma/examples';
const MMA_GROOVES = '/usr/share/mma/lib/stdlib';
const ABC_EXAMPLES = '/usr/share/doc/abcmidi/examples';
/** abcmidi's examples that are tunes (the others demonstrate drums, detuning, temperaments) */
const ABC_TUNES = ['araber.abc', 'baym_rebin.abc', 'boys.abc', 'coleraine.abc', 'daramud.abc', 'dergasn.abc'];
/** package → folder of the MIDI music it ships (searched recursively) */
const PACKAGED_MIDI: [string, string][] = [
  ['simutrans-data', '/usr/share/games/simutrans/music'],
  ['freedink-data', '/usr/share/games/dink/dink/Sound'],
  ['liquidwar-data', '/usr/share/games/liquidwar/music'],
  ['kobodeluxe-data', '/usr/share/kobo-deluxe/sfx'],
  ['faust-common', '/usr/share/faust/examples/physicalModeling/faust-stk/pd-patches/fancy'],
  ['chuck-data', '/usr/share/doc/chuck-data/examples/midi'],
];
/** audio kept of each rendering: the analysis looks at 90 s of a track at most */
const MAX_SECONDS = 150;
/** shortest piece kept (seconds of MIDI) */
const MIN_SECONDS = 20;
export const NOTE_NAMES = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'] as const;

export interface SetEntry {
  /** audio file (FLAC or MP3) */
  file: string;
  piece: string;
  source: 'mma-song' | 'mma-groove' | 'abc' | 'packaged';
  variant: 'original' | 'scaled+transposed';
  split: 'development' | 'held-out';
  /** quarter notes per minute; null: no single tempo, not x/4, or played in without a click */
  bpm: number | null;
  key: string | null;
  scale: 'major' | 'minor' | null;
  seconds: number;
}

const KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.6, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

function correlation(weights: number[], profile: number[], tonic: number): number {
  const mx = weights.reduce((a, b) => a + b, 0) / 12;
  const my = profile.reduce((a, b) => a + b, 0) / 12;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < 12; i++) {
    const dx = weights[(i + tonic) % 12]! - mx;
    const dy = profile[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

/**
 * The confirmed key of a MIDI file (see the header), or null. `written`: the key the piece was
 * composed in, when this script wrote it (mma grooves); it still has to agree with the notes.
 */
export function keyTruth(file: MidiFile, written?: { tonic: number; minor: boolean }): { tonic: number; minor: boolean } | null {
  const sigs = file.keySignatures;
  if (sigs.length === 0 || sigs.some((s) => s.sf !== sigs[0]!.sf)) return null;
  const weights = pitchClassWeights(file);
  if (weights.every((w) => w === 0)) return null;
  let best = { tonic: 0, minor: false, r: -Infinity };
  for (let tonic = 0; tonic < 12; tonic++) {
    for (const minor of [false, true]) {
      const r = correlation(weights, minor ? KK_MINOR : KK_MAJOR, tonic);
      if (r > best.r) best = { tonic, minor, r };
    }
  }
  const major = majorTonic(sigs[0]!.sf);
  const relative = (major + 9) % 12;
  const agrees = best.minor ? best.tonic === relative : best.tonic === major;
  if (!agrees) return null;
  if (written) return (written.minor ? written.tonic === relative : written.tonic === major) ? written : null;
  // the final chord: a major triad on the major tonic or a minor one on its relative (they share
  // two notes; the fifth of the one or the root of the other tells them apart)
  const final = finalPitchClasses(file);
  const majorTriad = [major, major + 4, major + 7].every((pc) => final.has(pc % 12));
  const minorTriad = [relative, relative + 3, relative + 7].every((pc) => final.has(pc % 12));
  if (majorTriad !== minorTriad) return { tonic: majorTriad ? major : relative, minor: minorTriad };
  const bass = finalBass(file);
  if (bass === major) return { tonic: major, minor: false };
  if (bass === relative) return { tonic: relative, minor: true };
  if (sigs[0]!.minor) return { tonic: relative, minor: true };
  return { tonic: best.tonic, minor: best.minor };
}

/**
 * Whether the notes follow the file's beat grid: at least this share of the note onsets fall in the
 * 6 most used of 24 equal positions within a quarter note. Sequenced music, humanised or swung, puts
 * 56–100 % there (most above 90 %); music played in without a click and saved with the sequencer's
 * default tempo map spreads its onsets over the beat (31–43 %, chance is 25 %): its written tempo is
 * not its beat.
 */
const PLAYED_TO_GRID = 0.5;

function playedToGrid(file: MidiFile): boolean {
  const positions = new Array<number>(24).fill(0);
  const notes = file.notes.filter((n) => n.channel !== 9);
  for (const n of notes) positions[Math.floor(((n.tick / file.division) % 1) * 24)]!++;
  const top = positions.sort((a, b) => b - a).slice(0, 6).reduce((a, b) => a + b, 0);
  return top >= PLAYED_TO_GRID * notes.length;
}

function quarterTime(file: MidiFile): boolean {
  return file.timeSignatures.every((t) => t.denominator === 4) || file.timeSignatures.length === 0;
}

function hash(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0);
}

// ---------------------------------------------------------------------------------------------
// mma grooves: a song per style

const MAJOR_PROGRESSIONS = [
  ['I', 'vi', 'IV', 'V', 'I', 'IV', 'V7', 'I'],
  ['I', 'V', 'vi', 'IV', 'I', 'ii', 'V7', 'I'],
  ['I', 'IV', 'I', 'V7', 'vi', 'ii', 'V7', 'I'],
];
const MINOR_PROGRESSIONS = [
  ['i', 'iv', 'V7', 'i', 'VI', 'iv', 'V7', 'i'],
  ['i', 'VII', 'VI', 'V7', 'i', 'iv', 'V7', 'i'],
  ['i', 'VI', 'III', 'VII', 'i', 'iv', 'V7', 'i'],
];
const DEGREES: Record<string, [number, string]> = {
  I: [0, ''], ii: [2, 'm'], iii: [4, 'm'], IV: [5, ''], V: [7, ''], V7: [7, '7'], vi: [9, 'm'],
  i: [0, 'm'], III: [3, ''], iv: [5, 'm'], VI: [8, ''], VII: [10, ''],
};
const CHORD_ROOTS = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];

/** a tempo in the range a style is played at, fixed by its name */
function grooveTempo(name: string): number {
  const n = name.toLowerCase();
  const h = (hash(n) % 1000) / 1000;
  const range = /slow|ballad|lullaby|hymn|spiritual|folkballad/.test(n)
    ? [62, 88]
    : /fast|quick|bebop|bluegrass|charleston|jive|dixie|ragtime|ska|polka|march|samba|merengue/.test(n)
      ? [150, 200]
      : [90, 150];
  return Math.round(range[0]! + h * (range[1]! - range[0]!));
}

function grooveSong(file: string): { name: string; text: string; key: { tonic: number; minor: boolean } } | null {
  const base = path.basename(file, '.mma');
  if (/^(metronome|none)/.test(base)) return null;
  const source = fs.readFileSync(file, 'latin1');
  const groove = /^\s*DefGroove\s+(\S+)/im.exec(source)?.[1];
  if (!groove) return null;
  const h = hash(base);
  const minor = h % 2 === 1;
  const tonic = (h >>> 3) % 12;
  const progressions = minor ? MINOR_PROGRESSIONS : MAJOR_PROGRESSIONS;
  const progression = progressions[(h >>> 8) % progressions.length]!;
  const bars: string[] = [];
  for (let rep = 0; rep < 4; rep++) {
    for (const degree of progression) {
      const [step, quality] = DEGREES[degree]!;
      bars.push(`${CHORD_ROOTS[(tonic + step) % 12]}${quality}`);
    }
  }
  const keyName = `${CHORD_ROOTS[tonic]} ${minor ? 'minor' : 'major'}`;
  // mma humanises timing and velocity at random: a fixed seed makes the song (and the key check on
  // its notes) the same at every build (since truth version 3; before, a build could differ slightly)
  const lines = [`// ${base}: ${keyName}`, `RndSeed ${h % 65536}`, `Tempo ${grooveTempo(base)}`, `Groove ${groove}`, `KeySig ${keyName}`];
  bars.forEach((chord, i) => lines.push(`${i + 1} ${chord}`));
  return { name: base, text: lines.join('\n') + '\n', key: { tonic, minor } };
}

// ---------------------------------------------------------------------------------------------
// building

interface Piece {
  name: string;
  source: SetEntry['source'];
  midi: Uint8Array;
  /** the key this script wrote the piece in (mma grooves) */
  key?: { tonic: number; minor: boolean };
  /**
   * the truth version that added the piece: variants are spread over the pieces of one generation,
   * so that adding pieces leaves the variants (and the files) of the earlier ones as they were
   */
  generation: 1 | 3;
}

async function collectPieces(work: string): Promise<Piece[]> {
  const pieces: Piece[] = [];
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  if (fs.existsSync(MMA_EXAMPLES)) {
    for (const file of walk(MMA_EXAMPLES).filter((f) => f.endsWith('.mid')).sort()) {
      pieces.push({ name: `mma-song/${path.relative(MMA_EXAMPLES, file)}`, source: 'mma-song', midi: fs.readFileSync(file), generation: 1 });
    }
  }
  if (fs.existsSync(MMA_GROOVES)) {
    for (const file of fs.readdirSync(MMA_GROOVES).filter((f) => f.endsWith('.mma')).sort()) {
      const song = grooveSong(path.join(MMA_GROOVES, file));
      if (!song) continue;
      const mmaFile = path.join(work, `${song.name}.mma`);
      const midFile = path.join(work, `${song.name}.mid`);
      fs.writeFileSync(mmaFile, song.text);
      try {
        await run('mma', ['-f', midFile, mmaFile]);
        pieces.push({ name: `mma-groove/${song.name}`, source: 'mma-groove', midi: fs.readFileSync(midFile), key: song.key, generation: 1 });
      } catch (error) {
        console.warn(`mma could not play ${file}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
  for (const tune of ABC_TUNES) {
    const file = path.join(ABC_EXAMPLES, tune);
    if (!fs.existsSync(file)) continue;
    const out = path.join(work, tune.replace(/\.abc$/, '.mid'));
    // with -o, abc2midi writes the book's first tune only
    await run('abc2midi', [file, '-o', out]).catch(() => undefined);
    if (fs.existsSync(out)) pieces.push({ name: `abc/${tune}`, source: 'abc', midi: fs.readFileSync(out), generation: 1 });
  }
  for (const [pkg, dir] of PACKAGED_MIDI) {
    if (!fs.existsSync(dir)) continue;
    for (const file of walk(dir).filter((f) => /\.mid$/i.test(f)).sort()) {
      pieces.push({ name: `${pkg}/${path.relative(dir, file)}`, source: 'packaged', midi: fs.readFileSync(file), generation: 3 });
    }
  }
  return pieces;
}

/** log-uniform 60–200 BPM and one of 12 transpositions, spread over the pieces by index */
function variantOf(index: number, count: number, bpm: number | null): { factor: number; semitones: number } {
  const u = ((index * 0.618034) % 1 + 1 / (2 * count)) % 1;
  const target = 60 * (200 / 60) ** u;
  return { factor: bpm === null ? 1 : target / bpm, semitones: ((index * 7) % 12) - 5 };
}

/** fluidsynth played much less of a piece than its MIDI holds (it stops early on a few files) */
class ShortRenderError extends Error {}

async function render(midi: Uint8Array, out: string, work: string, expectedSeconds: number): Promise<void> {
  const mid = path.join(work, `${path.basename(out)}.mid`);
  const wav = path.join(work, `${path.basename(out)}.wav`);
  fs.writeFileSync(mid, midi);
  await run('fluidsynth', ['-ni', '-q', '-F', wav, '-r', '44100', '-g', '0.5', SOUNDFONT, mid]);
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', wav, '-af', 'volumedetect', '-f', 'null', '-']);
  const [, h, m, sec] = /Duration: (\d+):(\d+):([\d.]+)/.exec(stderr) ?? [];
  const rendered = Number(h) * 3600 + Number(m) * 60 + Number(sec);
  if (!(rendered >= 0.5 * expectedSeconds)) {
    fs.rmSync(mid);
    fs.rmSync(wav);
    throw new ShortRenderError(`fluidsynth rendered ${rendered} s of ${expectedSeconds} s`);
  }
  const peak = Number(/max_volume:\s*(-?[\d.]+) dB/.exec(stderr)?.[1] ?? '0');
  const codec = out.includes('.mp3') ? ['-c:a', 'libmp3lame', '-b:a', '192k'] : ['-c:a', 'flac'];
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', wav, '-t', String(MAX_SECONDS), '-af', `volume=${(-1 - peak).toFixed(2)}dB`, ...codec, '-f', out.includes('.mp3') ? 'mp3' : 'flac', out]);
  fs.rmSync(mid);
  fs.rmSync(wav);
}

/** Builds the set (or reuses the cached one) and returns its entries. */
export async function buildAccuracySet(log: (line: string) => void = () => undefined): Promise<SetEntry[]> {
  const manifest = MANIFEST;
  if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')) as SetEntry[];
  for (const tool of ['mma', 'fluidsynth', 'abc2midi', 'ffmpeg']) {
    await run(tool, ['--version']).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new Error(`${tool} is missing: apt-get install mma fluidsynth fluid-soundfont-gm abcmidi ffmpeg`);
    });
  }
  if (!fs.existsSync(SOUNDFONT)) throw new Error(`${SOUNDFONT} is missing: apt-get install fluid-soundfont-gm`);
  fs.mkdirSync(SET_DIR, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'soniquebay-accuracy-'));
  try {
    const pieces = await collectPieces(work);
    const jobs: { entry: SetEntry; midi: Uint8Array }[] = [];
    const seen = new Set<string>();
    const kept = new Map<Piece['generation'], number>();
    const collected = new Map<Piece['generation'], number>();
    for (const p of pieces) collected.set(p.generation, (collected.get(p.generation) ?? 0) + 1);
    for (const piece of pieces) {
      let file: MidiFile;
      try {
        file = parseMidi(piece.midi);
      } catch (error) {
        log(`skipped ${piece.name}: ${(error as Error).message}`);
        continue;
      }
      const seconds = secondsAt(file, file.endTick);
      if (seconds < MIN_SECONDS || file.notes.filter((n) => n.channel !== 9).length < 32) continue;
      // the examples hold the same song more than once (twinkle, frankie…): keep distinct music only
      const digest = createHash('sha1').update(JSON.stringify(file.notes.slice(0, 200).map((n) => [n.tick, n.pitch]))).digest('hex');
      if (seen.has(digest)) continue;
      seen.add(digest);
      const bpm = quarterTime(file) ? dominantTempo(file) : null;
      const key = keyTruth(file, piece.key);
      if (bpm === null && key === null) continue;
      // decided after the piece is kept, so that the pieces and variants (the files) stay those of version 2
      const onGrid = playedToGrid(file);
      const split = hash(piece.name) % 3 === 0 ? 'held-out' : 'development';
      const base = piece.name.replace(/[^a-z0-9]+/gi, '_');
      const index = kept.get(piece.generation) ?? 0;
      kept.set(piece.generation, index + 1);
      // what a rendering plays: its tempo truth (null when it has none) and its duration
      const entry = (variant: SetEntry['variant'], played: { bpm: number | null; seconds: number }, semitones: number, ext: string): SetEntry => ({
        file: path.join(SET_DIR, `${base}${variant === 'original' ? '' : '_v'}.${ext}`),
        piece: piece.name,
        source: piece.source,
        variant,
        split,
        // the estimators' range is 60–200: a piece written outside it has no tempo truth as it is
        bpm: played.bpm === null || !onGrid || played.bpm < 59.5 || played.bpm > 201 ? null : Math.round(played.bpm * 1000) / 1000,
        key: key === null ? null : NOTE_NAMES[(key.tonic + semitones + 120) % 12]!,
        scale: key === null ? null : key.minor ? 'minor' : 'major',
        seconds: Math.round(Math.min(MAX_SECONDS, played.seconds) * 10) / 10,
      });
      jobs.push({ entry: entry('original', { bpm, seconds }, 0, index % 2 === 0 ? 'flac' : 'mp3'), midi: piece.midi });
      const v = variantOf(index, collected.get(piece.generation)!, bpm);
      const canScale = file.tempos.length > 0;
      const factor = canScale ? v.factor : 1;
      const midi = patchMidi(piece.midi, file, factor, v.semitones);
      // A file that sets no tempo at its start plays its opening at the default tempo, which the patch
      // cannot scale (it only rewrites tempo events): the variant then holds two tempi. Its truth is
      // what the patched file plays, when that is the written tempo scaled (since truth version 3).
      const patched = parseMidi(midi);
      const playedBpm = bpm === null ? null : dominantTempo(patched);
      const scaledAsWritten = playedBpm !== null && Math.abs(playedBpm / (bpm! * factor) - 1) < 0.01;
      const variantTruth = { bpm: scaledAsWritten ? bpm! * factor : null, seconds: secondsAt(patched, patched.endTick) };
      jobs.push({ entry: entry('scaled+transposed', variantTruth, v.semitones, index % 2 === 0 ? 'mp3' : 'flac'), midi });
    }
    // the plan first, so that an interrupted build resumes (files already rendered are kept)
    fs.writeFileSync(path.join(SET_DIR, 'plan.json'), JSON.stringify(jobs.map((j) => j.entry), null, 1));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        if (fs.existsSync(job.entry.file)) continue;
        try {
          await render(job.midi, `${job.entry.file}.part`, work, job.entry.seconds);
        } catch (error) {
          if (!(error instanceof ShortRenderError)) throw error;
          log(`left out ${path.basename(job.entry.file)}: ${error.message}`);
          continue;
        }
        fs.renameSync(`${job.entry.file}.part`, job.entry.file);
        log(`rendered ${path.basename(job.entry.file)} (${next}/${jobs.length})`);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    // a piece with a rendering left out is left out whole (its two files go together)
    const missing = new Set(jobs.filter((j) => !fs.existsSync(j.entry.file)).map((j) => j.entry.piece));
    const entries = jobs.map((j) => j.entry).filter((e) => !missing.has(e.piece));
    fs.writeFileSync(manifest, JSON.stringify(entries, null, 1));
    return entries;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const entries = await buildAccuracySet((line) => console.log(line));
  console.log(`${entries.length} files in ${MANIFEST}`);
}
