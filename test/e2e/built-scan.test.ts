// The installed command reads files as the sources do. The build bundles music-metadata and the
// packages it imports (scripts/build.mjs), and points the tag-mapper sharing of
// shared_tag_mappers.ts at the bundled module: a bundling mistake (a second copy of a module, a
// package that behaves differently bundled) would change what a scan stores, and nothing but the
// built command would show it. Both scan the real-world files of music-metadata's own test suite
// (read in place); every stored track, album, artist and cover must be the same.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BUILT_CLI, CLI } from '../helpers/chaos.js';

const CORPUS = path.resolve(import.meta.dirname, '../../../shared/corpora/music-metadata-samples');

/** columns that name a row or a moment, not what was read */
const VOLATILE = /^(id|.*_id|created_at|updated_at|missing_since)$/;

function scan(command: string[], dataDir: string): Record<string, unknown[]> {
  const result = spawnSync(command[0]!, [...command.slice(1), 'scan', CORPUS, '--json'], {
    env: { ...process.env, SONIQUEBAY_DATA_DIR: dataDir, SONIQUEBAY_LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(result.status, 0, result.stderr);
  const db = new Database(path.join(dataDir, 'soniquebay.db'), { readonly: true });
  try {
    const rows = (table: string, order: string) => {
      const columns = (db.prepare(`select name from pragma_table_info('${table}')`).all() as { name: string }[]).map((c) => c.name).filter((c) => !VOLATILE.test(c));
      return db.prepare(`select ${columns.map((c) => `"${c}"`).join(', ')} from ${table} order by ${order}`).all();
    };
    // an album's key names its album artist by id, which depends on the order batches were written in
    const artistKeys = new Map((db.prepare('select id, name_key from artists').all() as { id: number; name_key: string }[]).map((a) => [a.id, a.name_key]));
    const albums = (rows('albums', 'album_key, title') as { album_key: string }[]).map((a) => ({ ...a, album_key: a.album_key.replace(/\|(\d+)$/, (_m, id: string) => `|${artistKeys.get(Number(id))}`) }));
    albums.sort((a, b) => (a.album_key < b.album_key ? -1 : a.album_key > b.album_key ? 1 : 0));
    return {
      tracks: rows('tracks', 'path'),
      albums,
      artists: rows('artists', 'name_key, name'),
      covers: rows('covers', 'entity_type, hash'),
    };
  } finally {
    db.close();
  }
}

describe('the installed command', { skip: fs.existsSync(CORPUS) ? false : `no corpus at ${CORPUS}` }, () => {
  it('stores what the sources store for the real-world files of music-metadata-samples', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-built-scan-'));
    try {
      const built = scan([BUILT_CLI], path.join(dir, 'built'));
      const source = scan([process.execPath, '--import', 'tsx', CLI], path.join(dir, 'source'));
      assert.ok(source.tracks!.length > 150, `the corpus gives tracks (${source.tracks!.length})`);
      assert.ok(source.covers!.length > 0, 'and covers');
      for (const table of Object.keys(source)) assert.deepEqual(built[table], source[table], `${table} differ between the built command and the sources`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
