import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  genreAncestors,
  genreKey,
  genreParent,
  ID3V1_GENRES,
  moodAndGenreTagsFromAb,
  normalizeGenres,
  TAXONOMY,
} from '../../src/services/genres/normalize.js';

const names = (raw: readonly string[]) => normalizeGenres(raw).map((g) => g.name);

describe('genre normalisation', () => {
  it('splits on ; / , | and NUL but not on "&" or inside known spellings', () => {
    assert.deepEqual(names(['Rock/Pop, Jazz']), ['Rock', 'Pop', 'Jazz']);
    assert.deepEqual(names(['Drum & Bass; R&B']), ['Drum and Bass', 'R&B']);
    assert.deepEqual(names(['Rock\0Blues|Soul']), ['Rock', 'Blues', 'Soul']);
    assert.deepEqual(names(['Singer/Songwriter, Rock']), ['Singer-Songwriter', 'Rock']);
    assert.deepEqual(names(['R&B / Soul']), ['R&B']);
    assert.deepEqual(names(['Rock & Roll']), ['Rock and Roll']);
  });

  it('maps aliases and case, accent and punctuation variants to the canonical name', () => {
    for (const spelling of ['hip-hop', 'HipHop', 'HIP HOP', 'Hip Hop', ' hip  hop ']) assert.deepEqual(names([spelling]), ['Hip Hop'], spelling);
    for (const spelling of ['dnb', 'DnB', 'D&B', 'drum n bass', 'Drum & Bass', "drum'n'bass"]) assert.deepEqual(names([spelling]), ['Drum and Bass'], spelling);
    assert.deepEqual(names(['alt-rock']), ['Alternative Rock']);
    assert.deepEqual(names(['rnb']), ['R&B']);
    assert.deepEqual(names(['Rhythm & Blues']), ['R&B']);
    assert.deepEqual(names(['synthpop', 'kpop', 'postrock', 'trip-hop', 'lofi']), ['Synth-pop', 'K-Pop', 'Post-Rock', 'Trip Hop', 'Lo-Fi Hip Hop']);
    assert.deepEqual(names(['Reguetón', 'reggaeton']), ['Reggaeton']);
    assert.deepEqual(names(['rap']), ['Rap']);
    assert.equal(genreParent('Rap'), 'Hip Hop');
    const [known] = normalizeGenres(['deep house']);
    assert.deepEqual(known, { name: 'Deep House', parent: 'House', known: true });
  });

  it('drops numbers, decades, overlong values and placeholder words', () => {
    assert.deepEqual(normalizeGenres(['2005', '14', '00s', "90's", '80S', '1990s', 'x'.repeat(60), 'Unknown', 'other', 'Genre', 'misc', 'None', '', '  ', 'N/A']), []);
    assert.deepEqual(names(['2005', 'Rock', '<unknown>']), ['Rock']);
  });

  it('reads ID3v1 numeric references', () => {
    assert.deepEqual(names(['(17)']), ['Rock']);
    assert.deepEqual(names(['(9)Metal']), ['Metal']);
    assert.deepEqual(names(['(17)Hard Rock']), ['Hard Rock']);
    assert.deepEqual(names(['(8)(0)']), ['Jazz', 'Blues']);
    assert.deepEqual(names(['(12)']), [], '"Other" is junk');
    assert.deepEqual(names(['(127)']), ['Drum and Bass']);
    assert.equal(ID3V1_GENRES.length, 192);
    assert.equal(ID3V1_GENRES[17], 'Rock');
    assert.equal(ID3V1_GENRES[191], 'Psybient');
  });

  it('keeps unknown genres, tidied to Title Case, with known=false', () => {
    assert.deepEqual(normalizeGenres(['dungeon synth']), [{ name: 'Dungeon Synth', parent: null, known: false }]);
    assert.deepEqual(names(['uk funky']), ['UK Funky']);
    assert.deepEqual(names(['wonky EDM']), ['Wonky EDM']);
    assert.deepEqual(names(['DARK CABARET']), ['Dark Cabaret']);
    assert.deepEqual(names(['post-grunge revival']), ['Post-Grunge Revival']);
    assert.deepEqual(names(['music of the spheres']), ['Music of the Spheres']);
  });

  it('dedupes case- and spelling-insensitively, keeping the first occurrence order', () => {
    assert.deepEqual(names(['Jazz', 'rock', 'JAZZ', 'Hip-Hop; hip hop', 'Rock']), ['Jazz', 'Rock', 'Hip Hop']);
    assert.deepEqual(names(['dungeon synth', 'Dungeon Synth', 'DUNGEON-SYNTH']), ['Dungeon Synth']);
  });

  it('gives parents and ancestors, nearest first', () => {
    assert.equal(genreParent('Deep House'), 'House');
    assert.equal(genreParent('house'), 'Electronic');
    assert.equal(genreParent('Electronic'), null);
    assert.equal(genreParent('Dungeon Synth'), null);
    assert.deepEqual(genreAncestors('Deep House'), ['House', 'Electronic']);
    assert.deepEqual(genreAncestors('dnb'), ['Electronic']);
    assert.deepEqual(genreAncestors('Rock'), []);
    assert.deepEqual(genreAncestors('nothing known'), []);
  });
});

describe('genre taxonomy data', () => {
  it('has a sensible size and the main families as roots', () => {
    assert.ok(TAXONOMY.length >= 150 && TAXONOMY.length <= 250, `${TAXONOMY.length} genres`);
    const roots = new Set(TAXONOMY.filter((g) => g.parent === null).map((g) => g.name));
    for (const family of ['Rock', 'Pop', 'Electronic', 'Hip Hop', 'R&B', 'Jazz', 'Blues', 'Classical', 'Country', 'Folk', 'Reggae', 'Latin', 'Metal', 'Punk', 'World', 'Soundtrack', 'Ambient']) {
      assert.ok(roots.has(family), family);
    }
  });

  it('has every parent as a genre, no cycles, and no spelling used twice', () => {
    const byName = new Map(TAXONOMY.map((g) => [g.name, g]));
    assert.equal(byName.size, TAXONOMY.length, 'genre names are unique');
    for (const genre of TAXONOMY) {
      if (genre.parent !== null) assert.ok(byName.has(genre.parent), `${genre.name}: parent ${genre.parent} is a genre`);
      const seen = new Set([genre.name]);
      for (let parent = genre.parent; parent !== null; parent = byName.get(parent)?.parent ?? null) {
        assert.ok(!seen.has(parent), `cycle through ${genre.name}`);
        seen.add(parent);
      }
    }
    // An alias matching its own genre's key is redundant, except a spelling with a separator
    // ("Singer/Songwriter"), which is listed so that it is not split.
    const owner = new Map<string, string>();
    for (const genre of TAXONOMY) {
      for (const spelling of [genre.name, ...genre.aliases]) {
        const key = genreKey(spelling);
        assert.ok(key.length > 0, spelling);
        if (owner.get(key) === genre.name && /[;/,|]/.test(spelling)) continue;
        assert.ok(!owner.has(key), `"${spelling}" (${genre.name}) is already a spelling of ${owner.get(key)}`);
        owner.set(key, genre.name);
      }
    }
  });

  it('maps every genre name and alias back to that genre', () => {
    for (const genre of TAXONOMY) {
      for (const spelling of [genre.name, ...genre.aliases]) {
        assert.deepEqual(normalizeGenres([spelling]), [{ name: genre.name, parent: genre.parent, known: true }], spelling);
      }
    }
  });
});

describe('AcousticBrainz tags', () => {
  it('turns mood probabilities above 0.5 into weighted moods and genre values into genres', () => {
    const result = moodAndGenreTagsFromAb({
      'ab:hi:mood_happy:happy': '0.83',
      'ab:hi:mood_happy:not_happy': '0.17',
      'ab:hi:mood_sad:sad': '0.2',
      'ab:hi:mood_aggressive:aggressive': '0.5',
      'ab:hi:mood_party:party': '0.61',
      'ab:hi:danceability:danceable': '0.9',
      'ab:hi:mood_mirex:cluster2': '0.7',
      'ab:genre': 'Drum & Bass; hip-hop; 80s rock',
      'ab:hi:genre_rosamerica': 'roc',
      'ab:hi:genre_rosamerica:roc': '0.7',
      'ab:mood': 'Melancholic',
      'ab:lo:rhythm:bpm': '120',
    });
    assert.deepEqual(result.genres, ['Drum and Bass', 'Hip Hop', 'Rock']);
    assert.deepEqual(result.moods, [
      { name: 'melancholic', weight: 1 },
      { name: 'danceable', weight: 0.9 },
      { name: 'happy', weight: 0.83 },
      { name: 'party', weight: 0.61 },
    ]);
  });

  it('returns nothing for no tags', () => {
    assert.deepEqual(moodAndGenreTagsFromAb({}), { genres: [], moods: [] });
  });
});
