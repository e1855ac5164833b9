import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open.js';
import { eligibleTrackIds } from '../../src/services/vectors/inputs.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

describe('tracks ready for vectors', () => {
  it('pages through the tracks analysed with the current method only, in id order, whichever table the page walks', async () => {
    const handle = openDatabase({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vector-inputs-')) });
    try {
      const db = handle.db;
      await migrateToLatest(db, handle.dialect);
      const tracks = (await insertSyntheticLibrary(db, 5)).map((t) => t.id).sort((a, b) => a - b);
      // a library whose analysis has just begun: most tracks not analysed, one analysed by an older method
      await db.deleteFrom('track_analysis').where('track_id', 'in', tracks.filter((_, i) => i % 3 !== 0)).execute();
      await db.updateTable('track_analysis').set({ version: 1 }).where('track_id', '=', tracks[3]!).execute();
      const expected = tracks.filter((_, i) => i % 3 === 0 && i !== 3);
      const paged: number[] = [];
      for (let page = await eligibleTrackIds(db, true, 0, 2); page.length > 0; page = await eligibleTrackIds(db, true, page.at(-1)!, 2)) paged.push(...page);
      assert.deepEqual(paged, expected);
      assert.deepEqual(await eligibleTrackIds(db, false, tracks[1]!, 3), tracks.slice(2, 5), 'analysis off: every track');
    } finally {
      await handle.close();
    }
  });
});
