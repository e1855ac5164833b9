// Writes a very large library of small, valid, tagged files fast, for bench:scan's big-library mode:
//   node --import tsx scripts/million-library.ts --files 1000000 --out /tmp/million [--seed 1]
// Debian's ffmpeg encodes one short MP3 and one short FLAC once; every file is that audio with its
// own tags written by scripts/tag-writers.ts (ID3v2.4, Vorbis comments), so a million files take
// minutes, not hours. Layout as a tagged collection is usually filed, four levels deep:
//   <root>/<initial>/<album artist>/<year> - <album>/<NN> - <title>.<mp3|flac>
// with 6–14 tracks an album, 1–4 albums an artist, one album in 20 a compilation (its own
// "Various Artists" folder, a different artist per track), one track in 5 featuring a second
// artist from a large pool: about files/10 albums and over files/4 distinct artists. Writes
// <root>/.million.json (hidden, so scans skip it) with the counts a scan must find.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from './random.js';
import { flacWithTags, mp3WithTags, splitFlac, stripId3, type FixtureTags } from './tag-writers.js';

export interface MillionManifest {
  root: string;
  files: number;
  albums: number;
  /** distinct track and album artists written (before any dedupe by the scan) */
  artists: number;
  bytes: number;
  seed: number;
}

const GENRES = ['Rock', 'Pop', 'Jazz', 'Electronic', 'Hip-Hop', 'Folk', 'Classical', 'Ambient', 'Soul', 'Metal', 'Reggae', 'Blues'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'ne', 'to', 'vi', 'sa', 'du', 'fe', 'gri', 'zon', 'bel', 'mar', 'ti', 'qua', 'ro', 'lu', 'che', 'wen'];

/** A word from a number: distinct numbers give distinct words, so names never collide by accident. */
export function word(n: number): string {
  let out = '';
  let x = n;
  do {
    out += SYLLABLES[x % SYLLABLES.length];
    x = Math.floor(x / SYLLABLES.length);
  } while (x > 0);
  return out.charAt(0).toUpperCase() + out.slice(1);
}

function encodeOnce(dir: string): { mp3: Buffer; flac: ReturnType<typeof splitFlac> } {
  const mp3 = path.join(dir, 'seed.mp3');
  const flac = path.join(dir, 'seed.flac');
  const sine = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.5'];
  execFileSync('ffmpeg', [...sine, '-ac', '1', '-ar', '22050', '-b:a', '32k', mp3]);
  execFileSync('ffmpeg', [...sine, '-ac', '1', '-ar', '8000', '-sample_fmt', 's16', flac]);
  return { mp3: stripId3(fs.readFileSync(mp3)), flac: splitFlac(fs.readFileSync(flac)) };
}

export function generateMillion(options: { files: number; out: string; seed?: number; onProgress?: (written: number) => void }): MillionManifest {
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const root = path.resolve(options.out);
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-million-seed-'));
  const audio = encodeOnce(tmp);
  fs.rmSync(tmp, { recursive: true, force: true });

  const guestPool = Math.max(1, Math.floor(options.files / 4));
  const guests = new Set<number>();
  let written = 0;
  let bytes = 0;
  let albums = 0;
  let albumArtists = 0;
  let albumsLeftForArtist = 0;
  let artistName = '';
  while (written < options.files) {
    const compilation = random() < 0.05;
    if (!compilation && albumsLeftForArtist === 0) {
      albumArtists++;
      artistName = `${word(albumArtists)} ${word(albumArtists * 7 + 3)}`;
      albumsLeftForArtist = 1 + Math.floor(random() * 4);
    }
    const albumArtist = compilation ? 'Various Artists' : artistName;
    albums++;
    const year = 1950 + Math.floor(random() * 75);
    const album = `${word(albums + 100_000)} ${word(albums)}`;
    const folder = path.join(root, compilation ? 'Various Artists' : albumArtist.charAt(0), albumArtist, `${year} - ${album}`);
    fs.mkdirSync(folder, { recursive: true });
    const tracks = Math.min(6 + Math.floor(random() * 9), options.files - written);
    const genres = random() < 0.3 ? [pick(GENRES), pick(GENRES)] : [pick(GENRES)];
    for (let t = 1; t <= tracks; t++) {
      const title = `${word(written * 3 + 11)} ${word(t)}`;
      let artists = [albumArtist];
      if (compilation) {
        albumArtists++;
        artists = [`${word(albumArtists)} ${word(albumArtists * 7 + 3)}`];
      }
      if (random() < 0.2) {
        const guest = Math.floor(random() * guestPool);
        guests.add(guest);
        artists.push(`${word(guest + 1_000_000)} feat`);
      }
      const tags: FixtureTags = { title, artists, albumArtist, album, genres, track: [t, tracks], year, ...(compilation ? { compilation: true } : {}) };
      const flac = random() < 0.25;
      const data = flac ? flacWithTags(audio.flac, tags) : mp3WithTags(audio.mp3, tags);
      fs.writeFileSync(path.join(folder, `${String(t).padStart(2, '0')} - ${title}.${flac ? 'flac' : 'mp3'}`), data);
      bytes += data.length;
      written++;
      if (written % 10_000 === 0) options.onProgress?.(written);
    }
    if (!compilation) albumsLeftForArtist--;
  }
  const manifest: MillionManifest = { root, files: written, albums, artists: albumArtists + guests.size, bytes, seed };
  fs.writeFileSync(path.join(root, '.million.json'), JSON.stringify(manifest));
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const out = arg('out');
  if (!out) throw new Error('usage: million-library.ts --files N --out DIR [--seed S]');
  const t0 = Date.now();
  const manifest = generateMillion({
    files: Number(arg('files') ?? 1_000_000),
    out,
    seed: Number(arg('seed') ?? 1),
    onProgress: (n) => process.stderr.write(`\r${n} files`),
  });
  process.stderr.write('\n');
  console.log(JSON.stringify({ ...manifest, seconds: (Date.now() - t0) / 1000 }));
}
