// The tag rules the differential test found broken, each on a file built byte by byte: names with a
// bare "/" in ID3v2.3, iTunes 12.1 frame ids, one tag block per file (ID3v2 over APEv2), Discogs
// genres, audio sanity limits, and the count of skipped non-audio files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { stripId3 } from '../../scripts/tag-writers.js';
import { summarize } from '../../src/cli/scan.js';
import type { ScanTable } from '../../src/db/types.js';
import { normalizeGenres } from '../../src/services/genres/normalize.js';
import { impossibleHeader, plausibleDuration } from '../../src/workers/scan/audio_properties.js';
import type { ExtractedTrack, FileError } from '../../src/workers/scan/extracted.js';
import { extractFile } from '../../src/workers/scan/metadata_extractor.js';
import { walkFolders } from '../../src/workers/scan/walk.js';

/** An ID3v2.3 (or 2.2-style ids padded to 4 bytes, as iTunes 12.1 writes) tag of Latin-1 text frames. */
function id3v23(frames: [string, string][]): Buffer {
  const body = Buffer.concat(
    frames.map(([id, text]) => {
      const data = Buffer.concat([Buffer.from([0]), Buffer.from(text, 'latin1')]);
      const header = Buffer.alloc(10);
      header.write(id.padEnd(4, '\0'), 0, 'latin1');
      header.writeUInt32BE(data.length, 4);
      return Buffer.concat([header, data]);
    }),
  );
  const size = body.length;
  const header = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([header, body]);
}

/** An APEv2 tag (footer only, as mp3gain and foobar2000 append it). */
function apev2(items: [string, string][]): Buffer {
  const body = Buffer.concat(
    items.map(([key, value]) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(Buffer.byteLength(value), 0);
      return Buffer.concat([head, Buffer.from(`${key}\0`, 'latin1'), Buffer.from(value, 'utf8')]);
    }),
  );
  const footer = Buffer.alloc(32);
  footer.write('APETAGEX', 0, 'latin1');
  footer.writeUInt32LE(2000, 8);
  footer.writeUInt32LE(body.length + 32, 12);
  footer.writeUInt32LE(items.length, 16);
  return Buffer.concat([body, footer]);
}

function track(result: ExtractedTrack | FileError): ExtractedTrack {
  assert.ok(!('message' in result), JSON.stringify(result));
  return result;
}

describe('tag rules on hand-built files', () => {
  let dir: string;
  let audio: Buffer;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tag-rules-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-b:a', '64k', path.join(dir, 'base.mp3')]);
    audio = stripId3(fs.readFileSync(path.join(dir, 'base.mp3')));
  });
  const write = (name: string, ...parts: Buffer[]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.concat(parts));
    return file;
  };

  it('keeps "AC/DC" whole in ID3v2.3 and splits "A / B" as written', async () => {
    const acdc = track(await extractFile(write('acdc.mp3', id3v23([['TIT2', 'Thunderstruck'], ['TPE1', 'AC/DC'], ['TPE2', 'AC/DC'], ['TALB', 'The Razors Edge']]), audio)));
    assert.deepEqual(acdc.artists, ['AC/DC']);
    assert.equal(acdc.artistDisplay, 'AC/DC');
    assert.deepEqual(acdc.albumArtists, ['AC/DC']);
    const spaced = track(await extractFile(write('spaced.mp3', id3v23([['TIT2', 'Duet'], ['TPE1', 'Their / There']]), audio)));
    assert.equal(spaced.artistDisplay, 'Their / There');
    assert.deepEqual(spaced.artists, ['Their', 'There']);
  });

  it('reads the v2.2 frame ids iTunes 12.1 writes into ID3v2.3 tags', async () => {
    const t = track(await extractFile(write('itunes.mp3', id3v23([['TIT2', 'FDP'], ['TP1', 'Tacocat'], ['TAL', 'Lost Time']]), audio)));
    assert.deepEqual([t.title, t.artists, t.album, t.fallbacks], ['FDP', ['Tacocat'], 'Lost Time', []]);
  });

  it('takes every field from one block: ID3v2 over APEv2, never a mix', async () => {
    const file = write('two-blocks.mp3', id3v23([['TIT2', 'ID3 Title'], ['TPE1', 'ID3 Artist']]), audio, apev2([['Title', 'APE Title'], ['Artist', 'APE Artist'], ['Album', 'APE Album']]));
    const t = track(await extractFile(file));
    assert.deepEqual([t.title, t.artists, t.album], ['ID3 Title', ['ID3 Artist'], '[Unknown Album]']);
    assert.ok(t.fallbacks.includes('album'));
  });

  it('reads APEv2 album gain, with or without its dB unit', async () => {
    const file = write('gain.mp3', audio, apev2([['Title', 'Gain'], ['REPLAYGAIN_TRACK_GAIN', '-3.5 dB'], ['REPLAYGAIN_ALBUM_GAIN', '-6.25'], ['REPLAYGAIN_ALBUM_PEAK', '0.988']]));
    const t = track(await extractFile(file));
    assert.deepEqual([t.rgTrackGain, t.rgAlbumGain, t.rgAlbumPeak], [-3.5, -6.25, 0.988]);
  });

  it('turns a tag-only stub (no audio frames) into an error row', async () => {
    const file = write('stub.mp3', id3v23([['TIT2', 'Only Tags'], ['TPE1', 'Nobody']]), Buffer.alloc(4096));
    const result = await extractFile(file);
    assert.ok('message' in result, `a stub became a track: ${JSON.stringify(result)}`);
    assert.match(result.message, /no audio|corrupt/);
  });
});

describe('genre separators', () => {
  it('keeps Discogs genres whole and splits real lists', () => {
    assert.deepEqual(normalizeGenres(['Folk, World, & Country']).map((g) => g.name), ['Folk, World, & Country']);
    assert.deepEqual(normalizeGenres(['Rock, Folk, World, & Country']).map((g) => g.name), ['Rock', 'Folk, World, & Country']);
    assert.ok(!normalizeGenres(['Folk, World, & Country']).some((g) => g.name.startsWith('&')));
  });
});

describe('audio sanity limits', () => {
  it('rejects impossible sample rates and channel counts, keeps real ones', () => {
    assert.match(impossibleHeader({ sampleRate: 2_700_000_000, channels: 50_688 }) ?? '', /implausible audio header/);
    assert.match(impossibleHeader({ sampleRate: -1, channels: 2 }) ?? '', /-1 Hz/);
    assert.equal(impossibleHeader({ sampleRate: 44_100, channels: 2 }), undefined);
    assert.equal(impossibleHeader({ sampleRate: 11_289_600, channels: 2 }), undefined); // DSD256
  });

  it('keeps a duration only when positive, finite and under a week', () => {
    assert.equal(plausibleDuration(-3675), false);
    assert.equal(plausibleDuration(1.8e9), false);
    assert.equal(plausibleDuration(Number.NaN), false);
    assert.equal(plausibleDuration(15_726.7), true); // a 4 h 22 min audiobook
  });
});

describe('files that are not audio', () => {
  it('are counted by extension during the walk and reach the scan summary', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-skipped-'));
    for (const name of ['a.mid', 'b.MID', 'c.mid', 'cover.jpg', 'README', '.hidden', 'song.mp3', 'book.m4b', 'x.dff']) fs.writeFileSync(path.join(dir, name), 'x');
    const listings = [];
    for await (const listing of walkFolders(dir, fs.realpathSync(dir))) listings.push(listing);
    assert.deepEqual(listings[0]!.skipped, { '.mid': 3, '.jpg': 1, '': 1 });
    assert.deepEqual(listings[0]!.files.map((f) => f.name).sort(), ['book.m4b', 'song.mp3', 'x.dff']);
    const summary = summarize({ id: 's', root_path: dir, status: 'completed', started_at: 0, finished_at: 1000, discovered: 3, skipped: JSON.stringify(listings[0]!.skipped) } as ScanTable);
    assert.deepEqual(summary.skipped, { '.mid': 3, '.jpg': 1, '': 1 });
  });
});
