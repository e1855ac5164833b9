// How our rows read in SoniqueBay's schema (contract §3): the values its columns and UI expect.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { camelotOf, coverMime, fileTypeOf, int4OrNull, keyOf, releaseYear, tagFeatures, textOrNull } from '../../src/services/soniquebay/rows.js';

describe('SoniqueBay row values', () => {
  it('file_size is int4: a file above 2 GiB gets NULL, not an overflow that fails the batch', () => {
    assert.equal(int4OrNull(2_147_483_647), 2_147_483_647);
    assert.equal(int4OrNull(2_147_483_648), null);
    assert.equal(int4OrNull(245.9), 245);
    assert.equal(int4OrNull(null), null);
  });

  it('file_type is the MIME type by extension, else unknown', () => {
    assert.deepEqual(['/m/a.MP3', '/m/b.flac', '/m/c.opus', '/m/d.wav', '/m/e.m4a', '/m/f.wv'].map(fileTypeOf), ['audio/mpeg', 'audio/flac', 'audio/ogg', 'audio/x-wav', 'audio/mp4', 'unknown']);
  });

  it('keys with sharps and major/minor, Camelot positions', () => {
    assert.deepEqual(keyOf('Am'), { key: 'A', scale: 'minor' });
    assert.deepEqual(keyOf('Ebm'), { key: 'D#', scale: 'minor' });
    assert.deepEqual(keyOf('F# major'), { key: 'F#', scale: 'major' });
    assert.deepEqual(keyOf('C'), { key: 'C', scale: 'major' });
    assert.deepEqual(keyOf('C#', 'minor'), { key: 'C#', scale: 'minor' });
    assert.equal(keyOf('8A'), null);
    assert.equal(keyOf('H'), null);
    assert.equal(camelotOf('C', 'major'), '8B');
    assert.equal(camelotOf('A', 'minor'), '8A');
    assert.equal(camelotOf('D#', 'minor'), '2A');
    assert.equal(camelotOf('B', 'major'), '1B');
  });

  it('BPM and key from the tags, else from AcousticBrainz values in the file', () => {
    assert.deepEqual(tagFeatures(128, 'Am', null), { bpm: 128, key: 'Am' });
    assert.deepEqual(tagFeatures(null, null, JSON.stringify({ 'ab:lo:rhythm:bpm': '92.5', 'ab:lo:tonal:key_key': 'G', 'ab:lo:tonal:key_scale': 'minor' })), { bpm: 92.5, key: 'G minor' });
    assert.deepEqual(tagFeatures(null, null, '{not json'), { bpm: null, key: null });
  });

  it('MBIDs are NULL when absent (musicbrainz_id is unique), years are 4 digits, cover MIME types valid', () => {
    assert.equal(textOrNull(''), null);
    assert.equal(textOrNull('  '), null);
    assert.equal(textOrNull(2004), '2004');
    assert.equal(releaseYear(2004), '2004');
    assert.equal(releaseYear(0), null);
    assert.equal(coverMime('image/JPG'), 'image/jpeg');
    assert.equal(coverMime('image/svg+xml'), null);
  });
});
