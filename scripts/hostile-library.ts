// A library of files that try to break a scan: cut-off audio, garbage behind audio extensions,
// tag frames that are huge or lie about their size, empty and unreadable files, dead and looping
// links, a named pipe, names with newlines, invalid UTF-8 and both Unicode normal forms, a very deep
// tree. Each entry says what the scan must make of it. Used by test/chaos/hostile-files.test.ts.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { seededRandom } from './random.js';
import { flacWithTags, mp3WithTags, splitFlac, stripId3 } from './tag-writers.js';

const run = promisify(execFile);

export interface HostileEntry {
  path: string;
  /** what the scan must make of it: a track, an error row whose message matches `reason`, or either */
  expect: 'track' | 'error' | 'any';
  reason?: RegExp;
  what: string;
}

export interface HostileLibrary {
  root: string;
  entries: HostileEntry[];
  /** folders the scan must not enter or list twice (link loops), for information */
  notes: string[];
}

/** ID3v2.4 header + one frame whose declared size is `declared` while only `actual` bytes follow */
function lyingId3(declared: number, actual: Buffer, audio: Buffer): Buffer {
  const syncsafe = (n: number) => Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);
  const frame = Buffer.concat([Buffer.from('TXXX', 'latin1'), syncsafe(declared), Buffer.from([0, 0]), actual]);
  return Buffer.concat([Buffer.from('ID3', 'latin1'), Buffer.from([4, 0, 0]), syncsafe(Math.min(declared + 10, 0x0fffffff)), frame, audio]);
}

export async function generateHostileLibrary(out: string, seed = 3): Promise<HostileLibrary> {
  const random = seededRandom(seed);
  const root = path.resolve(out);
  fs.mkdirSync(root, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hostile-base-'));
  const source = ['-f', 'lavfi', '-i', 'sine=frequency=330:duration=2', '-ac', '2', '-ar', '44100'];
  await run('ffmpeg', ['-v', 'error', '-y', ...source, '-b:a', '128k', path.join(work, 'base.mp3')]);
  await run('ffmpeg', ['-v', 'error', '-y', ...source, path.join(work, 'base.flac')]);
  await run('ffmpeg', ['-v', 'error', '-y', ...source, '-c:a', 'aac', '-b:a', '96k', path.join(work, 'base.m4a')]);
  const mp3 = stripId3(fs.readFileSync(path.join(work, 'base.mp3')));
  const flac = fs.readFileSync(path.join(work, 'base.flac'));
  const m4a = fs.readFileSync(path.join(work, 'base.m4a'));
  fs.rmSync(work, { recursive: true, force: true });

  const entries: HostileEntry[] = [];
  const notes: string[] = [];
  const put = (rel: string, data: Buffer, entry: Omit<HostileEntry, 'path'>) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
    entries.push({ path: file, ...entry });
    return file;
  };
  const garbage = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const tagged = (title: string) => mp3WithTags(mp3, { title, artists: ['Hostile Artist'], album: 'Hostile Album' });

  // controls: ordinary files next to the hostile ones must still be tracks
  put('ok/01 - fine.mp3', tagged('Fine'), { expect: 'track', what: 'an ordinary tagged MP3' });
  put('ok/02 - fine.flac', flacWithTags(splitFlac(flac), { title: 'Fine FLAC', artists: ['Hostile Artist'], album: 'Hostile Album' }), { expect: 'track', what: 'an ordinary tagged FLAC' });

  // cut-off audio: the tags are whole, the audio stops mid-frame (players play what is there)
  put('cut/half.mp3', tagged('Half').subarray(0, 300 + Math.floor(mp3.length / 2)), { expect: 'any', reason: /corrupt|no audio/, what: 'MP3 cut in the middle of a frame' });
  put('cut/header-only.flac', flac.subarray(0, 42), { expect: 'any', reason: /corrupt|no audio/, what: 'FLAC cut after its STREAMINFO' });
  put('cut/tag-only.mp3', tagged('Tag only').subarray(0, 40), { expect: 'error', reason: /corrupt|no audio/, what: 'MP3 cut inside its ID3 tag' });
  put('cut/no-moov.m4a', m4a.subarray(0, Math.floor(m4a.length / 3)), { expect: 'any', reason: /corrupt|no audio/, what: 'M4A without the end of its atoms' });

  // garbage behind audio extensions
  for (const ext of ['mp3', 'flac', 'm4a', 'ogg', 'opus', 'wav', 'wma', 'ape']) {
    put(`garbage/noise.${ext}`, garbage(4096), { expect: 'error', reason: /corrupt|no audio/, what: `random bytes named .${ext}` });
  }
  put('garbage/text.mp3', Buffer.from('this is not music\n'.repeat(50)), { expect: 'error', reason: /corrupt|no audio/, what: 'a text file named .mp3' });
  put('garbage/riff-only.wav', Buffer.concat([Buffer.from('RIFF'), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('WAVE'), garbage(64)]), {
    expect: 'error',
    reason: /corrupt|no audio/,
    what: 'a WAV header claiming 2 GiB, then nothing',
  });
  put('garbage/flac-magic.flac', Buffer.concat([Buffer.from('fLaC'), garbage(2048)]), { expect: 'error', reason: /corrupt|no audio/, what: 'FLAC magic followed by noise' });

  // tag frames: really huge, or lying about their size
  put('tags/huge-frame.mp3', mp3WithTags(mp3, { title: 'Huge frame', artists: ['Hostile Artist'], album: 'Hostile Album', extra: { junk: 'x'.repeat(24 * 1024 * 1024) } }), {
    expect: 'track',
    what: 'a 24 MiB TXXX frame in front of real audio',
  });
  put('tags/lying-frame.mp3', lyingId3(200 * 1024 * 1024, garbage(100), mp3), { expect: 'any', reason: /corrupt|no audio/, what: 'an ID3 frame declaring 200 MiB with 100 bytes behind it' });
  const manyComments = Buffer.concat([Buffer.from('fLaC'), flac.subarray(4, 42).map((b, i) => (i === 0 ? b & 0x7f : b)), Buffer.from([0x84, 0, 0, 12]), Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])]);
  put('tags/million-comments.flac', manyComments, { expect: 'any', reason: /corrupt|no audio/, what: 'a FLAC comment block declaring 2^31 comments' });

  // empty, unreadable
  put('empty/zero.mp3', Buffer.alloc(0), { expect: 'error', reason: /empty file/, what: 'a 0-byte file' });
  const locked = put('locked/private.mp3', tagged('Private'), { expect: process.getuid?.() === 0 ? 'track' : 'error', reason: /permission denied/, what: 'a file nobody may read (root still can)' });
  fs.chmodSync(locked, 0o000);

  // links: dead, looping, a folder loop, a pipe
  fs.mkdirSync(path.join(root, 'links'), { recursive: true });
  fs.symlinkSync('/nonexistent/disk/song.mp3', path.join(root, 'links/dead.mp3'));
  entries.push({ path: path.join(root, 'links/dead.mp3'), expect: 'error', reason: /broken symbolic link/, what: 'a link to an unplugged disk' });
  fs.symlinkSync('loop-b.mp3', path.join(root, 'links/loop-a.mp3'));
  fs.symlinkSync('loop-a.mp3', path.join(root, 'links/loop-b.mp3'));
  for (const name of ['loop-a.mp3', 'loop-b.mp3']) entries.push({ path: path.join(root, 'links', name), expect: 'error', reason: /link loop/, what: 'two links pointing at each other' });
  fs.symlinkSync('..', path.join(root, 'links/up'));
  notes.push('links/up → .. : a folder loop, visited once');
  execFileSync('mkfifo', [path.join(root, 'links/stream.mp3')]);
  entries.push({ path: path.join(root, 'links/stream.mp3'), expect: 'error', reason: /not a regular file/, what: 'a named pipe called stream.mp3 (reading it would block forever)' });

  // names
  put('names/line\nbreak.mp3', tagged('Line break'), { expect: 'track', what: 'a newline in the file name' });
  put('names/tab\tand\rcarriage.mp3', tagged('Control characters'), { expect: 'track', what: 'tab and carriage return in the name' });
  put('names/caf\u00e9.mp3', tagged('Cafe NFC'), { expect: 'track', what: 'café in NFC' });
  put('names/cafe\u0301.mp3', tagged('Cafe NFD'), { expect: 'track', what: 'café in NFD, next to its NFC twin' });
  put(`names/${'long'.repeat(60)}.mp3`, tagged('Long name'), { expect: 'track', what: 'a 244-byte file name' });
  const invalid = Buffer.concat([Buffer.from(path.join(root, 'names') + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('-name.mp3')]);
  fs.writeFileSync(invalid, tagged('Invalid UTF-8'));
  entries.push({ path: path.join(root, 'names', 'bad-\ufffd\ufffd-name.mp3'), expect: 'error', reason: /not valid UTF-8/, what: 'a name with bytes that are not UTF-8' });

  // a deep tree: 120 folders down
  const deep = Array.from({ length: 120 }, (_, i) => `d${i}`).join('/');
  put(`deep/${deep}/bottom.mp3`, tagged('Bottom'), { expect: 'track', what: 'a file 120 folders deep' });

  return { root, entries, notes };
}
