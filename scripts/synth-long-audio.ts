// Long files in every container and codec a music library holds that Debian's ffmpeg can write,
// 1–5 minutes each, tagged and untagged, for the differential test (and anyone who wants them):
//   node --import tsx scripts/synth-long-audio.ts [outDir]
// Without outDir they go to os.tmpdir()/soniquebay-long-<hash of this file>/, reused while this
// file is unchanged (a complete set has its manifest.json), so the test pays for them once.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

interface Format {
  /** file name suffix, extension included */
  name: string;
  /** ffmpeg output options (codec, muxer) */
  args: string[];
  rate: number;
  channels: number;
  /** ffmpeg writes no tags in this container (raw MPEG audio layer 2): only the untagged file */
  untaggable?: true;
}

/** One entry per container/codec pair; `mono`/rates vary so that sample rate and channels are checked too. */
export const LONG_FORMATS: readonly Format[] = [
  { name: 'mp3-cbr.mp3', args: ['-c:a', 'libmp3lame', '-b:a', '128k'], rate: 44100, channels: 2 },
  { name: 'mp3-vbr.mp3', args: ['-c:a', 'libmp3lame', '-q:a', '4'], rate: 44100, channels: 2 },
  { name: 'mp3-shine.mp3', args: ['-c:a', 'libshine', '-b:a', '64k', '-write_xing', '0'], rate: 32000, channels: 1 },
  { name: 'mp2.mp2', args: ['-c:a', 'mp2', '-b:a', '192k'], rate: 48000, channels: 2, untaggable: true },
  { name: 'flac.flac', args: ['-c:a', 'flac'], rate: 44100, channels: 2 },
  { name: 'flac-96k.flac', args: ['-c:a', 'flac', '-sample_fmt', 's32'], rate: 96000, channels: 2 },
  { name: 'vorbis.ogg', args: ['-c:a', 'libvorbis', '-q:a', '3'], rate: 44100, channels: 2 },
  { name: 'vorbis-mono.oga', args: ['-c:a', 'libvorbis', '-q:a', '1', '-f', 'oga'], rate: 22050, channels: 1 },
  { name: 'oggflac.oga', args: ['-c:a', 'flac', '-f', 'oga'], rate: 44100, channels: 2 },
  { name: 'opus.opus', args: ['-c:a', 'libopus', '-b:a', '96k'], rate: 48000, channels: 2 },
  { name: 'speex.spx', args: ['-c:a', 'libspeex', '-f', 'spx'], rate: 16000, channels: 1 },
  { name: 'aac.m4a', args: ['-c:a', 'aac', '-b:a', '128k'], rate: 44100, channels: 2 },
  { name: 'alac.m4a', args: ['-c:a', 'alac'], rate: 44100, channels: 2 },
  { name: 'audiobook.m4b', args: ['-c:a', 'aac', '-b:a', '64k', '-f', 'ipod'], rate: 22050, channels: 1 },
  { name: 'aac-adts.aac', args: ['-c:a', 'aac', '-b:a', '96k', '-f', 'adts', '-write_id3v2', '1'], rate: 44100, channels: 2 },
  { name: 'pcm16.wav', args: ['-c:a', 'pcm_s16le'], rate: 44100, channels: 2 },
  { name: 'pcm24.wav', args: ['-c:a', 'pcm_s24le'], rate: 48000, channels: 2 },
  { name: 'rf64.wav', args: ['-c:a', 'pcm_s16le', '-rf64', 'always'], rate: 44100, channels: 2 },
  { name: 'aiff.aiff', args: ['-c:a', 'pcm_s16be', '-write_id3v2', '1'], rate: 44100, channels: 2 },
  { name: 'aifc-alaw.aifc', args: ['-c:a', 'pcm_alaw', '-f', 'aiff'], rate: 8000, channels: 1 },
  { name: 'wma.wma', args: ['-c:a', 'wmav2', '-b:a', '128k', '-f', 'asf'], rate: 44100, channels: 2 },
  { name: 'matroska-flac.mka', args: ['-c:a', 'flac', '-f', 'matroska'], rate: 44100, channels: 2 },
  { name: 'webm-opus.webm', args: ['-c:a', 'libopus', '-b:a', '64k', '-f', 'webm'], rate: 48000, channels: 2 },
  { name: 'tta.tta', args: ['-c:a', 'tta'], rate: 44100, channels: 2 },
  { name: 'wavpack.wv', args: ['-c:a', 'wavpack'], rate: 44100, channels: 2 },
];

export interface LongFile {
  path: string;
  format: string;
  seconds: number;
  tagged: boolean;
  rate: number;
  channels: number;
}

const TAGS = { title: 'Long Title', artist: 'AC/DC', album: 'Long Album', album_artist: 'Long Album Artist', genre: 'Rock', track: '3/12', date: '2001' };

/** The library: every format twice (tagged, untagged), 60–300 s, lengths spread over the range. */
export async function synthLongLibrary(outDir?: string): Promise<{ dir: string; files: LongFile[] }> {
  const source = fs.readFileSync(fileURLToPath(import.meta.url));
  const dir = outDir ?? path.join(os.tmpdir(), `soniquebay-long-${createHash('sha1').update(source).digest('hex').slice(0, 12)}`);
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) return { dir, files: JSON.parse(fs.readFileSync(manifest, 'utf8')) as LongFile[] };
  fs.mkdirSync(dir, { recursive: true });
  const jobs: LongFile[] = [];
  LONG_FORMATS.forEach((format, i) => {
    for (const tagged of format.untaggable ? [false] : [true, false]) {
      const seconds = 60 + ((i * 2 + (tagged ? 0 : 1)) * 97) % 241;
      jobs.push({ path: path.join(dir, `${tagged ? 'tagged' : 'untagged'}-${format.name}`), format: format.name, seconds, tagged, rate: format.rate, channels: format.channels });
    }
  });
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const format = LONG_FORMATS.find((f) => f.name === job.format)!;
      // a tone that changes every few seconds: codecs cannot squeeze it to nothing
      const input = `sine=frequency=330:beep_factor=3:sample_rate=${format.rate}:duration=${job.seconds}`;
      const metadata = job.tagged ? Object.entries(TAGS).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]) : ['-map_metadata', '-1', '-fflags', '+bitexact'];
      const channels = ['-ac', String(format.channels)];
      await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', input, ...channels, ...format.args, ...metadata, job.path], { maxBuffer: 1 << 20 });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(4, os.availableParallelism())) }, lane));
  fs.writeFileSync(manifest, JSON.stringify(jobs, null, 1));
  return { dir, files: jobs };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { dir, files } = await synthLongLibrary(process.argv[2]);
  console.log(`${files.length} long files in ${dir}`);
}
