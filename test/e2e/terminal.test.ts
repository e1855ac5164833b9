// `soniquebay scan` as a person sees it: run in a real terminal (tmux), on a generated library. The
// bar reaches 100 %, the command exits within 2 s of the scan's end (later stages stay queued), no
// JSON log line reaches the terminal, and `covers missing` right after lists exactly the albums
// whose files and folders hold no art.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { nameKey } from '../../src/workers/scan/names.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const TMUX = spawnSync('tmux', ['-V']).status === 0;
if (!TMUX && process.env.CI === 'true') throw new Error('tmux is missing: CI installs it for the terminal test');

function tmux(args: string[]): string {
  const r = spawnSync('tmux', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('scan in a terminal', { skip: TMUX ? false : 'no tmux (apt-get install tmux)' }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  const session = `sb-term-${process.pid}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-term-'));
    manifest = await generateLibrary({ tracks: 160, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
  });
  after(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fills the bar, exits within 2 s of the scan end with no JSON on the screen, and covers missing is right at once', async (t) => {
    const data = path.join(dir, 'data');
    const ended = path.join(dir, 'ended');
    // the command, then the exit code and the time it returned (ms), written where the test reads them
    const script = `SONIQUEBAY_DATA_DIR=${quote(data)} SONIQUEBAY_LOG_LEVEL= ${quote(process.execPath)} --import tsx ${quote(CLI)} scan ${quote(manifest.root)}; echo "$? $(date +%s%3N)" > ${quote(ended)}; sleep 120`;
    tmux(['new-session', '-d', '-s', session, '-x', '150', '-y', '50', '-c', path.resolve(import.meta.dirname, '../..'), 'sh', '-c', script]);
    const deadline = Date.now() + 90_000;
    while (!fs.existsSync(ended) || fs.readFileSync(ended, 'utf8').trim().split(' ').length < 2) {
      if (Date.now() > deadline) assert.fail(`the scan did not return in 90 s:\n${tmux(['capture-pane', '-p', '-t', session])}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const [code, returnedAt] = fs.readFileSync(ended, 'utf8').trim().split(' ').map(Number) as [number, number];
    const screen = tmux(['capture-pane', '-p', '-J', '-S', '-1000', '-t', session]);
    assert.equal(code, 0, screen);

    const db = new Database(path.join(data, 'soniquebay.db'), { readonly: true });
    const scan = db.prepare('select status, finished_at from scans').get() as { status: string; finished_at: number };
    const queued = db.prepare("select queue, count(*) as n from queue_jobs where state = 'waiting' group by queue").all() as { queue: string; n: number }[];
    db.close();
    assert.equal(scan.status, 'completed');
    const afterEnd = returnedAt - scan.finished_at;
    t.diagnostic(`returned ${afterEnd} ms after the scan's end`);
    assert.ok(afterEnd < 2_000, `returned ${afterEnd} ms after the scan's end`);
    // the later stages were left for run/serve, and the summary says so in one line
    assert.ok(queued.some((q) => q.queue === 'metadata' && q.n > 0), JSON.stringify(queued));
    assert.match(screen, /follow-up work queued for `soniquebay run` \(or `serve --embedded`\): analysis and enrichment \d+ job\(s\)/);

    assert.match(screen, /\[#{30}\] 100%/, screen);
    assert.match(screen, /: completed in [\d.]+ s/);
    const json = screen.split('\n').filter((line) => /^\s*\{.*"(level|msg)"/.test(line));
    assert.deepEqual(json, [], 'no JSON log line on the terminal');
    // warnings (the fixture's corrupt embedded pictures) are short readable lines instead
    assert.match(screen, /^warning: no cover from this track \(/m);

    const missing = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'covers', 'missing', '--json', '--limit', '1000'], { env: { ...process.env, SONIQUEBAY_DATA_DIR: data }, encoding: 'utf8' });
    assert.equal(missing.status, 0, missing.stderr);
    const listed = (JSON.parse(missing.stdout) as { albums: { title: string; artist: string }[] }).albums.map((a) => `${nameKey(a.title)}|${nameKey(a.artist)}`).sort();
    // every album of the library (the placeholder one of untagged files too) but those with art in their files or folders
    const albums = new Set(Object.values(manifest.tracks).map((t) => `${nameKey(t.album)}|${nameKey(t.albumArtist)}`));
    const withoutArt = [...albums].filter((key) => !manifest.albumArt[key]).sort();
    assert.ok(withoutArt.length > 0 && withoutArt.length < albums.size);
    assert.deepEqual(listed, withoutArt);
  });
});
