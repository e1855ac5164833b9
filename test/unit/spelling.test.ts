import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferredSpelling } from '../../src/db/spelling.js';

describe('preferred spelling of a name', () => {
  it('keeps the same spelling whatever order the files come in', () => {
    const spellings = ['ARTIST 7', 'Artist 7', 'artist 7', 'ArTiSt 7'];
    const orders = [spellings, [...spellings].reverse(), [spellings[2]!, spellings[0]!, spellings[3]!, spellings[1]!]];
    const kept = orders.map((order) => order.reduce(preferredSpelling));
    assert.deepEqual(new Set(kept).size, 1);
    assert.equal(kept[0], 'ArTiSt 7', 'mixed case first, then byte order');
    assert.equal(preferredSpelling('AC/DC', 'Ac/dc'), 'Ac/dc');
    assert.equal(preferredSpelling('björk', 'BJÖRK'), 'BJÖRK', 'both single-case: byte order');
  });
});
