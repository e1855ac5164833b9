import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseFile } from 'music-metadata';
import { BLOCK_BYTES, BlockFile } from '../../src/workers/scan/block_reader.js';
import { frameSyncConfirmed } from '../../src/workers/scan/frame_sync.js';
import { openLibraryFile, type ReadMode } from '../../src/workers/scan/open_file.js';
import { isAudioFile } from '../../src/workers/scan/walk.js';

const CORPUS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpora', 'music-metadata-samples');

/** a parse of a file opened as the scan opens a large one (never read whole) */
async function parseLargeFile(file: string, mode: ReadMode, stats?: { reads: number }) {
  const opened = await openLibraryFile(file, undefined, mode, 0);
  const blocks = new BlockFile(opened);
  try {
    return await blocks.parse();
  } finally {
    if (stats) stats.reads = blocks.reads;
    await opened.close();
  }
}

/** the parse result as comparable text (picture bytes by length) */
function shape(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : typeof v === 'bigint' ? String(v) : v));
}

describe('large files parsed through 64 KiB blocks', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-blocks-'));
    // a 3-minute track in each container that is parsed by random access once above 1 MiB
    const sine = ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=180', '-metadata', 'title=Long Song', '-metadata', 'artist=Someone', '-metadata', 'album=An Album'];
    execFileSync('ffmpeg', [...sine, '-c:a', 'aac', '-b:a', '96k', path.join(dir, 'long.m4a')]);
    execFileSync('ffmpeg', [...sine, '-b:a', '96k', path.join(dir, 'long.mp3')]);
    execFileSync('ffmpeg', [...sine, path.join(dir, 'long.flac')]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads an M4A, MP3 and FLAC in a few reads with the same result as parseFile', async () => {
    for (const name of ['long.m4a', 'long.mp3', 'long.flac']) {
      const file = path.join(dir, name);
      assert.ok(fs.statSync(file).size > 1024 * 1024, `${name} is large`);
      const stats = { reads: 0 };
      const cached = await parseLargeFile(file, 'async', stats);
      assert.equal(shape(cached), shape(await parseFile(file)), name);
      assert.equal(cached.common.title, 'Long Song');
      assert.ok(Math.abs((cached.format.duration ?? 0) - 180) < 1, `${name}: duration ${cached.format.duration}`);
      assert.ok(stats.reads <= 4, `${name}: ${stats.reads} reads`);
    }
  });

  it('serves the scan\'s own reads of a large MP3 from the parse\'s blocks, and reads its end in 4 KiB', async () => {
    const opened = await openLibraryFile(path.join(dir, 'long.mp3'), undefined, 'async', 0);
    const bytes: number[] = [];
    const read = opened.read;
    opened.read = async (buffer, offset, length, position) => {
      bytes.push(length);
      return read(buffer, offset, length, position);
    };
    try {
      const blocks = new BlockFile(opened);
      const metadata = await blocks.parse();
      assert.equal(metadata.format.container, 'MPEG');
      const parsed = bytes.length;
      assert.ok(await frameSyncConfirmed((position, length) => blocks.readAt(position, length)));
      assert.equal(bytes.length, parsed, 'the frame sync check reads nothing more');
      // the head block and the footers (ID3v1, APE), not the file's last block
      assert.ok(bytes.reduce((a, b) => a + b, 0) <= BLOCK_BYTES + 4096, `read ${bytes.join(' + ')} bytes`);
    } finally {
      await opened.close();
    }
  });

  it('parses every file of the real-world corpus exactly as parseFile does, with asynchronous and with blocking reads', async () => {
    const files = fs
      .readdirSync(CORPUS, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && isAudioFile(e.name))
      .map((e) => path.join(e.parentPath, e.name));
    assert.ok(files.length >= 50);
    for (const file of files) {
      const outcome = async (parse: () => Promise<unknown>) => {
        try {
          return shape(await parse());
        } catch (err) {
          return `error: ${(err as Error).message}`;
        }
      };
      const expected = await outcome(() => parseFile(file));
      assert.equal(await outcome(() => parseLargeFile(file, 'async')), expected, path.relative(CORPUS, file));
      assert.equal(await outcome(() => parseLargeFile(file, 'blocking')), expected, `${path.relative(CORPUS, file)} (blocking)`);
    }
  });
});
