// Builds a realistic music library for tests and benchmarks with Debian's ffmpeg:
//   npm run fixtures -- --tracks 200 --out /tmp/library [--seed 1] [--seconds 1]
// Nested artist/album folders, MP3/FLAC (tags written here) and M4A/OGG/Opus/WAV (tags by
// ffmpeg), multi-artist and multi-genre tags, compilations, case variants of one artist, unicode
// and odd file names, embedded covers and folder.jpg, untagged files, and a few corrupt,
// truncated and empty files. It writes what a correct scan must find to <out>/.fixtures.json
// (a hidden file, so the scan itself skips it).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { normalizeGenres } from '../src/services/genres/normalize.js';
import { nameKey, UNKNOWN_ALBUM, UNKNOWN_ARTIST, VARIOUS_ARTISTS } from '../src/workers/scan/names.js';
import { flacWithTags, mp3WithTags, splitFlac, stripId3, type FixtureTags } from './tag-writers.js';
import { seededRandom } from './random.js';

const run = promisify(execFile);

export interface ExpectedTrack {
  title: string;
  artists: string[];
  album: string;
  albumArtist: string;
  genres: string[];
}

export interface FixtureManifest {
  root: string;
  /** every audio file the scan must account for: a track, an error row, or either (`any`) */
  files: { path: string; expect: 'track' | 'error' | 'any' }[];
  tracks: Record<string, ExpectedTrack>;
  /** dedupe keys (see src/workers/scan/names.ts) of the expected artists, albums and genres */
  artistKeys: string[];
  albumKeys: string[];
  genreKeys: string[];
  hiddenFiles: string[];
  /** album key → where its art is: embedded in its files (wins), a cover/folder file, or none */
  albumArt: Record<string, 'embedded' | 'folder' | null>;
  /** artist keys whose folder holds an artist.jpg */
  artistArt: string[];
  /** tracks whose embedded picture is not an image */
  corruptPictures: string[];
}

export interface FixtureOptions {
  tracks: number;
  out: string;
  seed?: number;
  /** length of every track's audio */
  seconds?: number;
  /** at most this many tracks in the formats ffmpeg must tag one by one (slow) */
  maxFfmpegTracks?: number;
}

const GENRES = ['Rock', 'Pop', 'Jazz', 'Electronic', 'Hip-Hop', 'Drum & Bass', 'R&B', 'Folk', 'Classical', 'Ambient'];
const SLOW_FORMATS = ['m4a', 'ogg', 'opus', 'wav'] as const;


function artistName(i: number): string {
  if (i % 7 === 3) return `Sigur Rós ${i}`;
  if (i % 11 === 5) return `東京事変 ${i}`;
  if (i % 13 === 8) return `Beyoncé & The ${i}s`;
  return `Artist ${i}`;
}

function safeName(name: string): string {
  return name.replace(/\//g, '∕');
}

async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-y', ...args]);
}

interface Bases {
  mp3: Buffer;
  flac: ReturnType<typeof splitFlac>;
  mp3Whole: Buffer;
  cover: Buffer;
  work: string;
}

async function makeBases(seconds: number): Promise<Bases> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fixture-base-'));
  const source = ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-ac', '2', '-ar', '44100'];
  await ffmpeg([...source, '-b:a', '128k', path.join(work, 'base.mp3')]);
  await ffmpeg([...source, path.join(work, 'base.flac')]);
  await ffmpeg(['-f', 'lavfi', '-i', 'color=c=teal:s=64x64:d=1', '-frames:v', '1', path.join(work, 'cover.jpg')]);
  for (const ext of SLOW_FORMATS) {
    const codec = ext === 'm4a' ? ['-c:a', 'aac', '-b:a', '96k'] : ext === 'ogg' ? ['-c:a', 'libvorbis'] : ext === 'opus' ? ['-c:a', 'libopus', '-ar', '48000'] : [];
    await ffmpeg([...source, ...codec, path.join(work, `base.${ext}`)]);
  }
  const mp3Whole = fs.readFileSync(path.join(work, 'base.mp3'));
  return {
    mp3: stripId3(mp3Whole),
    mp3Whole,
    flac: splitFlac(fs.readFileSync(path.join(work, 'base.flac'))),
    cover: fs.readFileSync(path.join(work, 'cover.jpg')),
    work,
  };
}

async function ffmpegTagged(bases: Bases, ext: (typeof SLOW_FORMATS)[number], file: string, tags: FixtureTags): Promise<void> {
  const meta: string[] = [];
  const add = (key: string, value: string | undefined) => value !== undefined && meta.push('-metadata', `${key}=${value}`);
  add('title', tags.title);
  add('artist', tags.artists?.join('; '));
  add('album', tags.album);
  if (ext !== 'wav') add('album_artist', tags.albumArtist);
  add('genre', tags.genres?.join('; '));
  if (ext !== 'wav') add('track', tags.track ? `${tags.track[0]}/${tags.track[1]}` : undefined);
  if (ext !== 'wav') add('date', tags.year ? String(tags.year) : undefined);
  await ffmpeg(['-i', path.join(bases.work, `base.${ext}`), '-map_metadata', '-1', '-c', 'copy', ...meta, file]);
}

export async function generateLibrary(options: FixtureOptions): Promise<FixtureManifest> {
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const bases = await makeBases(options.seconds ?? 1);
  const maxSlow = options.maxFfmpegTracks ?? 200;

  const manifest: FixtureManifest = { root: out, files: [], tracks: {}, artistKeys: [], albumKeys: [], genreKeys: [], hiddenFiles: [], albumArt: {}, artistArt: [], corruptPictures: [] };
  const artistKeys = new Set<string>();
  const albumKeys = new Set<string>();
  const genreKeys = new Set<string>();
  const slowJobs: (() => Promise<void>)[] = [];
  let slowCount = 0;
  let made = 0;
  let albumNo = 0;

  const writeTrack = (dir: string, fileBase: string, tags: FixtureTags | null, expected: ExpectedTrack, index: number) => {
    let ext: string = index % 10 < 6 ? 'mp3' : index % 10 < 9 ? 'flac' : 'slow';
    if (ext === 'slow') ext = slowCount < maxSlow ? SLOW_FORMATS[slowCount++ % SLOW_FORMATS.length]! : 'mp3';
    if (!tags) ext = 'mp3';
    const file = path.join(dir, `${fileBase}.${ext}`);
    if (ext === 'mp3') fs.writeFileSync(file, tags ? mp3WithTags(bases.mp3, tags) : bases.mp3);
    else if (ext === 'flac') fs.writeFileSync(file, flacWithTags(bases.flac, tags!));
    else {
      const slowTags: FixtureTags = { ...tags!, ...(ext === 'wav' ? { albumArtist: undefined, track: undefined, year: undefined } : {}) };
      slowJobs.push(() => ffmpegTagged(bases, ext as (typeof SLOW_FORMATS)[number], file, slowTags));
      if (ext === 'wav' && tags?.albumArtist && tags.albumArtist !== expected.artists[0]) {
        // RIFF INFO has no album-artist field: the album is the track artist's
        expected = { ...expected, albumArtist: expected.artists[0]! };
      }
    }
    manifest.files.push({ path: file, expect: 'track' });
    manifest.tracks[file] = expected;
    expected.artists.forEach((a) => artistKeys.add(nameKey(a)));
    artistKeys.add(nameKey(expected.albumArtist));
    albumKeys.add(`${nameKey(expected.album)}|${nameKey(expected.albumArtist)}`);
    expected.genres.forEach((g) => genreKeys.add(nameKey(g)));
    made++;
    return file;
  };

  let artistNo = 0;
  while (made < options.tracks) {
    artistNo++;
    const artist = artistName(artistNo);
    const albums = 1 + Math.floor(random() * 3);
    for (let a = 0; a < albums && made < options.tracks; a++) {
      albumNo++;
      const compilation = albumNo % 9 === 0;
      const album = compilation ? `Compilation Nº${albumNo}` : `Album ${albumNo}${albumNo % 6 === 0 ? ' (Deluxe Edition)' : ''}`;
      const albumArtist = compilation ? VARIOUS_ARTISTS : artist;
      const year = 1960 + Math.floor(random() * 60);
      const dir = path.join(out, safeName(albumArtist), safeName(`${album} (${year})`));
      fs.mkdirSync(dir, { recursive: true });
      const withCover = albumNo % 3 === 0;
      // every album's art has bytes of its own (same picture, its number after the JPEG end marker)
      const art = Buffer.concat([bases.cover, Buffer.from(`album ${albumNo}`)]);
      if (albumNo % 4 === 0) fs.writeFileSync(path.join(dir, albumNo % 8 === 0 ? 'Folder.JPG' : 'cover.jpg'), art);
      manifest.albumArt[`${nameKey(album)}|${nameKey(albumArtist)}`] = withCover ? 'embedded' : albumNo % 4 === 0 ? 'folder' : null;
      if (!compilation && a === 0 && artistNo % 3 === 0) {
        fs.writeFileSync(path.join(out, safeName(artist), 'artist.jpg'), Buffer.concat([bases.cover, Buffer.from(`artist ${artistNo}`)]));
        manifest.artistArt.push(nameKey(artist));
      }
      const length = 4 + Math.floor(random() * 8);
      const albumGenres = [pick(GENRES), ...(random() < 0.4 ? [pick(GENRES)] : [])].filter((g, i, all) => all.indexOf(g) === i);
      for (let t = 1; t <= length && made < options.tracks; t++) {
        const index = made;
        const odd = index % 17 === 4 ? ` — l'été #${t} & "quotes" 🎵` : index % 23 === 7 ? ' café' : '';
        const title = `Song ${index}${odd}`;
        if (index % 31 === 30) {
          // no tags at all: the title comes from the file name, artist and album are the unknown ones
          const fileTitle = `Untitled ${index}`;
          writeTrack(dir, `${String(t).padStart(2, '0')} - ${fileTitle}`, null, { title: fileTitle, artists: [UNKNOWN_ARTIST], album: UNKNOWN_ALBUM, albumArtist: UNKNOWN_ARTIST, genres: [] }, index);
          continue;
        }
        const trackArtist = compilation ? `Compilation Artist ${albumNo}-${t}` : artist;
        const writtenArtist = !compilation && index % 10 === 9 ? trackArtist.toUpperCase() : trackArtist;
        const guests = index % 8 === 5 ? [`Guest ${index % 5}`] : [];
        const genres = index % 5 === 0 ? [...albumGenres, albumGenres[0]!.toLowerCase()] : albumGenres;
        const tags: FixtureTags = {
          title,
          artists: [writtenArtist, ...guests],
          albumArtist,
          album,
          genres: index % 7 === 0 ? [genres.join('; ')] : genres,
          track: [t, length],
          disc: [1, 1],
          year,
          ...(compilation ? { compilation: true } : {}),
          ...(withCover ? { cover: { mime: 'image/jpeg', data: art } } : {}),
          ...(!withCover && index % 37 === 20 ? { cover: { mime: 'image/jpeg', data: Buffer.from('this is not a picture at all') } } : {}),
          ...(index % 12 === 0 ? { extra: { 'ab:lo:rhythm:bpm': String(80 + (index % 100)) } } : {}),
        };
        const fileName = index % 19 === 11 ? `${String(t).padStart(2, '0')} ${'Long name '.repeat(15).trim()} ${index}` : `${String(t).padStart(2, '0')} - ${safeName(title)}`;
        const nfd = index % 29 === 13 ? fileName.normalize('NFD') : fileName;
        // genres as a scan must store them: canonical names of the taxonomy ("Hip-Hop" → "Hip Hop")
        const expectedGenres = normalizeGenres(albumGenres).map((g) => g.name);
        const written = writeTrack(dir, nfd, tags, { title, artists: [trackArtist, ...guests], album, albumArtist, genres: expectedGenres }, index);
        if (!withCover && index % 37 === 20 && /\.(mp3|flac)$/.test(written)) manifest.corruptPictures.push(written);
      }
    }
  }

  // files a scan must survive
  const broken = path.join(out, 'Broken Files');
  fs.mkdirSync(broken, { recursive: true });
  const corrupt = Math.max(3, Math.ceil(options.tracks / 200));
  for (let i = 0; i < corrupt; i++) {
    const empty = path.join(broken, `empty ${i}.mp3`);
    fs.writeFileSync(empty, '');
    const garbage = path.join(broken, `garbage ${i}.flac`);
    fs.writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256))));
    const truncated = path.join(broken, `truncated ${i}.mp3`);
    const whole = mp3WithTags(bases.mp3, { title: `Truncated ${i}`, artists: [UNKNOWN_ARTIST], album: UNKNOWN_ALBUM });
    fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    manifest.files.push({ path: empty, expect: 'error' }, { path: garbage, expect: 'error' }, { path: truncated, expect: 'any' });
  }
  // hidden entries are never scanned
  fs.mkdirSync(path.join(out, '.hidden'), { recursive: true });
  for (const hidden of [path.join(out, '.hidden', 'secret.mp3'), path.join(broken, '._resource-fork.mp3')]) {
    fs.writeFileSync(hidden, bases.mp3Whole);
    manifest.hiddenFiles.push(hidden);
  }

  // the slow formats, two ffmpeg processes at a time
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < slowJobs.length) await slowJobs[next++]!();
    }),
  );
  fs.rmSync(bases.work, { recursive: true, force: true });

  manifest.artistKeys = [...artistKeys].sort();
  manifest.albumKeys = [...albumKeys].sort();
  manifest.genreKeys = [...genreKeys].sort();
  fs.writeFileSync(path.join(out, '.fixtures.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

function parseArgs(argv: string[]): FixtureOptions {
  const get = (flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const tracks = Number(get('--tracks') ?? 200);
  const out = get('--out');
  if (!out || !Number.isInteger(tracks) || tracks < 1) {
    throw new Error('usage: npm run fixtures -- --tracks N --out DIR [--seed S] [--seconds D] [--max-ffmpeg M]');
  }
  return {
    tracks,
    out,
    seed: Number(get('--seed') ?? 1),
    seconds: Number(get('--seconds') ?? 1),
    maxFfmpegTracks: Number(get('--max-ffmpeg') ?? 200),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const manifest = await generateLibrary(options);
  const errors = manifest.files.filter((f) => f.expect !== 'track').length;
  process.stdout.write(
    `${manifest.files.length} audio files (${Object.keys(manifest.tracks).length} tracks, ${errors} broken) in ${manifest.root}: ` +
      `${manifest.artistKeys.length} artists, ${manifest.albumKeys.length} albums, ${manifest.genreKeys.length} genres, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
