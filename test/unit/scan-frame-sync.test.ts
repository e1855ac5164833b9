// A bare MPEG audio / ADTS stream is believed only when a second frame header confirms the first
// (as ffmpeg and mutagen do): random bytes named .mp3 used to become a 0.14 s track.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '../../scripts/random.js';
import { mp3WithTags } from '../../scripts/tag-writers.js';
import { frameSyncConfirmed, worthProbing } from '../../src/workers/scan/frame_sync.js';
import { extractFile } from '../../src/workers/scan/metadata_extractor.js';

const readerOf = (data: Buffer) => async (position: number, length: number) => data.subarray(position, position + length);

describe('frame sync confirmation', () => {
  let dir: string;
  // what real encoders write: MPEG-1/2/2.5 layer III, layer II, ADTS AAC (3 s each)
  const encodings: [string, string[]][] = [
    ['mpeg1-l3.mp3', ['-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '192k']],
    ['mpeg2-l3.mp3', ['-ar', '22050', '-c:a', 'libmp3lame', '-b:a', '64k']],
    ['mpeg25-l3.mp3', ['-ar', '11025', '-c:a', 'libmp3lame', '-b:a', '32k']],
    ['vbr.mp3', ['-ar', '48000', '-c:a', 'libmp3lame', '-q:a', '4']],
    ['layer2.mp2', ['-ar', '48000', '-c:a', 'mp2', '-b:a', '256k']],
    ['adts.aac', ['-ar', '44100', '-c:a', 'aac', '-b:a', '128k', '-f', 'adts']],
  ];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-frame-sync-'));
    for (const [name, args] of encodings) {
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', ...args, path.join(dir, name)]);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('confirms every stream an encoder writes, also behind a 200 KiB ID3v2 tag', async () => {
    for (const [name] of encodings) {
      const data = fs.readFileSync(path.join(dir, name));
      assert.ok(await frameSyncConfirmed(readerOf(data)), name);
      if (name.endsWith('.mp3')) {
        const tagged = mp3WithTags(data, { title: 'x'.repeat(200 * 1024), artists: ['A'] });
        assert.ok(await frameSyncConfirmed(readerOf(tagged)), `${name} behind a big tag`);
      }
    }
  });

  it('never confirms random bytes, even with a valid frame header planted in them', async () => {
    const random = seededRandom(7);
    const header = fs.readFileSync(path.join(dir, 'mpeg1-l3.mp3')).subarray(0, 4);
    let confirmed = 0;
    for (let i = 0; i < 300; i++) {
      const noise = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256)));
      header.copy(noise, Math.floor(random() * 2048));
      if (await frameSyncConfirmed(readerOf(noise))) confirmed++;
    }
    assert.equal(confirmed, 0);
  });

  it('asks ffprobe about a file music-metadata cannot read only when something in it looks like audio', async () => {
    const random = seededRandom(11);
    const noise = () => Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256)));
    const mp3 = fs.readFileSync(path.join(dir, 'mpeg1-l3.mp3'));
    const adts = fs.readFileSync(path.join(dir, 'adts.aac'));
    const m4a = Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypM4A ', 'latin1'), noise()]);
    // random bytes named .flac (the bench library's broken files): no second opinion
    for (let i = 0; i < 50; i++) assert.equal(await worthProbing(readerOf(noise()), '.flac'), false, `noise ${i}`);
    // mislabelled audio keeps its second opinion: an MP3, an ADTS stream, an MP4 or Ogg named .flac
    assert.equal(await worthProbing(readerOf(mp3), '.flac'), true, 'an MP3 named .flac');
    assert.equal(await worthProbing(readerOf(mp3WithTags(mp3, { title: 'T', artists: ['A'] })), '.flac'), true, 'a tagged MP3 named .flac');
    assert.equal(await worthProbing(readerOf(adts), '.m4a'), true, 'ADTS named .m4a');
    assert.equal(await worthProbing(readerOf(m4a), '.flac'), true, 'an ftyp box named .flac');
    assert.equal(await worthProbing(readerOf(Buffer.concat([Buffer.from('OggS', 'latin1'), noise()])), '.flac'), true, 'Ogg named .flac');
    // a damaged FLAC keeps its signature, and a frame-stream name is always worth a look
    assert.equal(await worthProbing(readerOf(Buffer.concat([Buffer.from('fLaC', 'latin1'), noise()])), '.flac'), true, 'damaged FLAC');
    assert.equal(await worthProbing(readerOf(noise()), '.mp3'), true, 'noise named .mp3');
  });

  it('makes noise named .mp3 an error row, and keeps a real MP3 a track of the right length', async () => {
    const random = seededRandom(3);
    const noise = path.join(dir, 'noise.mp3');
    // seed 3's first 4 KiB hold an ADTS sync music-metadata believed (the hostile library's file)
    fs.writeFileSync(noise, Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256))));
    const rejected = await extractFile(noise);
    assert.ok('message' in rejected && /no audio/.test(rejected.message), JSON.stringify(rejected));
    const track = await extractFile(path.join(dir, 'mpeg1-l3.mp3'));
    assert.ok('duration' in track && track.duration !== null && Math.abs(track.duration - 3) < 0.1, JSON.stringify(track));
  });
});
