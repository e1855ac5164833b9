import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { mp3WithTags, stripId3 } from '../../scripts/tag-writers.js';
import { extractFile, repairMojibake, titleFromFileName } from '../../src/workers/scan/metadata_extractor.js';
import { nameKey, splitArtists, UNKNOWN_ALBUM, UNKNOWN_ARTIST } from '../../src/workers/scan/names.js';

describe('names and multi-value tags', () => {
  it('dedupes names by case, accents and spacing', () => {
    assert.equal(nameKey('  Beyoncé   Knowles '), nameKey('BEYONCE KNOWLES'));
    assert.notEqual(nameKey('AC/DC'), nameKey('ACDC'));
    // plain ASCII takes a shorter path: the same keys as through the Unicode one
    assert.equal(nameKey('  The   Beatles '), 'the beatles');
    assert.equal(nameKey('  The   Beatles '), nameKey('  The   Beatlés '));
    assert.equal(nameKey('Sigur Ros'), nameKey('Sigur\tRós'));
  });

  it('splits artists on ";" and " / " but keeps "&" and "AC/DC" whole', () => {
    assert.deepEqual(splitArtists(['Simon & Garfunkel; Paul Simon']), ['Simon & Garfunkel', 'Paul Simon']);
    assert.deepEqual(splitArtists(['AC/DC']), ['AC/DC']);
    assert.deepEqual(splitArtists(['A / B', 'a']), ['A', 'B']);
  });

  it('takes a title from the file name without its track number', () => {
    assert.equal(titleFromFileName('/m/03 - Song Name.flac'), 'Song Name');
    assert.equal(titleFromFileName('/m/12. Another.mp3'), 'Another');
    assert.equal(titleFromFileName('/m/1979.mp3'), '1979');
  });

  it('re-decodes UTF-8 that was read as Latin-1', () => {
    assert.equal(repairMojibake('Sigur RÃ³s'), 'Sigur Rós');
    assert.equal(repairMojibake('Café'), 'Café');
  });
});

describe('metadata extraction', () => {
  let dir: string;
  let audio: Buffer;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-extract-'));
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-b:a', '64k', path.join(dir, 'base.mp3')]);
    audio = stripId3(fs.readFileSync(path.join(dir, 'base.mp3')));
  });

  it('reads ID3v2.4 multi-value frames, album artist, numbers, compilation and the picture hash', async () => {
    const file = path.join(dir, 'tagged.mp3');
    fs.writeFileSync(
      file,
      mp3WithTags(audio, {
        title: 'Title',
        artists: ['First', 'Second'],
        albumArtist: 'Various Artists',
        album: 'Album',
        genres: ['Rock', 'Pop'],
        track: [3, 12],
        disc: [1, 2],
        year: 1999,
        compilation: true,
        cover: { mime: 'image/jpeg', data: Buffer.from('not really a jpeg') },
        extra: { 'ab:lo:rhythm:bpm': '128' },
      }),
    );
    const track = await extractFile(file);
    assert.ok(!('message' in track), JSON.stringify(track));
    assert.equal(track.title, 'Title');
    assert.deepEqual(track.artists, ['First', 'Second']);
    assert.deepEqual(track.albumArtists, ['Various Artists']);
    assert.deepEqual(track.genres, ['Rock', 'Pop']);
    assert.deepEqual([track.trackNo, track.trackTotal, track.discNo, track.discTotal, track.year], [3, 12, 1, 2, 1999]);
    assert.equal(track.compilation, true);
    assert.match(track.pictureHash ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(track.abTags, { 'ab:lo:rhythm:bpm': '128' });
    assert.ok((track.duration ?? 0) > 0.9);
    assert.deepEqual(track.fallbacks, []);
  });

  it('gives an untagged file its documented fallbacks, never dropping it', async () => {
    const file = path.join(dir, '07 - Lost Song.mp3');
    fs.writeFileSync(file, audio);
    const track = await extractFile(file);
    assert.ok(!('message' in track));
    assert.equal(track.title, 'Lost Song');
    assert.deepEqual(track.artists, [UNKNOWN_ARTIST]);
    assert.equal(track.album, UNKNOWN_ALBUM);
    assert.deepEqual(track.fallbacks, ['title', 'artist', 'album']);
  });

  it('turns empty, garbage and missing files into errors with a reason', async () => {
    fs.writeFileSync(path.join(dir, 'empty.mp3'), '');
    fs.writeFileSync(path.join(dir, 'garbage.flac'), Buffer.alloc(2048, 7));
    const empty = await extractFile(path.join(dir, 'empty.mp3'));
    const garbage = await extractFile(path.join(dir, 'garbage.flac'));
    const missing = await extractFile(path.join(dir, 'gone.mp3'));
    assert.ok('message' in empty && /empty file/.test(empty.message));
    assert.ok('message' in garbage && /corrupt|no audio/.test(garbage.message), JSON.stringify(garbage));
    assert.ok('message' in missing && /disappeared/.test(missing.message));
  });
});
