// The analysis decoder's ffmpeg processes start from a long-lived shell (so the worker process
// never forks per track) and write through Unix sockets: their output, their failures, their
// abort, a shell that dies, file names a shell would otherwise interpret.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { launchFfmpeg } from '../../src/services/analysis/ffmpeg_launcher.js';
import { decodeForAnalysis } from '../../src/services/analysis/decode.js';

const ppidOf = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

async function bytesOf(stream: Readable | null): Promise<number> {
  if (!stream) return -1;
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

/** one second of a 440 Hz sine as 8 kHz mono f32: 32,000 bytes */
const sine = (seconds = 1) => ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=8000`, '-f', 'f32le'];

describe('ffmpeg launcher', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-launcher-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs ffmpeg from one shell, not from this process, run after run, and hands each output over a socket', async () => {
    const parents = new Set<number>();
    for (let run = 0; run < 3; run++) {
      const ffmpeg = await launchFfmpeg(([a, b]) => [...sine(), a!, '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono:d=0.5', '-map', '1:a', '-f', 'f32le', b!], 2);
      const pid = await ffmpeg.pid;
      assert.ok(pid !== null);
      parents.add(ppidOf(pid));
      const [first, second, code] = await Promise.all([bytesOf(await ffmpeg.outputs[0]!), bytesOf(await ffmpeg.outputs[1]!), ffmpeg.exit]);
      assert.equal(code, 0, ffmpeg.stderr());
      assert.equal(first, 32_000);
      assert.equal(second, 16_000);
    }
    assert.equal(parents.size, 1, 'one launcher shell served every run');
    const [shell] = parents;
    assert.notEqual(shell, process.pid);
    assert.equal(ppidOf(shell!), process.pid, 'the shell is a child of this process');
  });

  it('passes file names a shell would expand or split unchanged, and decodes them', async () => {
    const name = path.join(dir, `it's a "$HOME" \`x\` $(y) *\nline.flac`);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=330:duration=2', '-ac', '2', name]);
    const decoded = await decodeForAnalysis(
      { file: name, hint: { sampleRate: 44_100, channels: 2, seconds: 2 }, maxSeconds: 600, onLoudnessFormat: () => {}, onLoudness: () => {} },
      'ffmpeg',
    );
    assert.ok(Math.abs(decoded.seconds - 2) < 0.05, `decoded ${decoded.seconds} s`);
  });

  it('reports a failure with ffmpeg\'s reason and no output, and the next run still works', async () => {
    const missing = path.join(dir, 'missing.flac');
    const failed = await launchFfmpeg(([a]) => ['-v', 'error', '-nostdin', '-i', `file:${missing}`, '-f', 'f32le', a!], 1);
    assert.notEqual(await failed.exit, 0);
    assert.equal(await failed.outputs[0], null);
    assert.match(failed.stderr(), /No such file/);
    const next = await launchFfmpeg(([a]) => [...sine(), a!], 1);
    assert.equal(await bytesOf(await next.outputs[0]!), 32_000);
    assert.equal(await next.exit, 0);
  });

  it('kills a run at once, even before its pid is known', async () => {
    const long = await launchFfmpeg(([a]) => ['-v', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'sine=duration=60', '-f', 'f32le', a!], 1);
    long.kill();
    const started = Date.now();
    assert.equal(await long.exit, null, 'killed by a signal');
    assert.ok(Date.now() - started < 2_000);
  });

  it('fails a run whose shell dies as a failure of the machine, not of the file, and replaces the shell', async () => {
    const first = await launchFfmpeg(([a]) => ['-v', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'sine=duration=60', '-f', 'f32le', a!], 1);
    const ffmpegPid = (await first.pid)!;
    const shell = ppidOf(ffmpegPid);
    process.kill(shell, 'SIGKILL');
    await assert.rejects(first.exit, /launcher shell ended/);
    process.kill(ffmpegPid, 'SIGKILL'); // orphaned, it would run its minute out
    // -re: output at real speed, so the process is still there to be looked at
    const next = await launchFfmpeg(([a]) => ['-re', ...sine(), a!], 1);
    const nextShell = ppidOf((await next.pid)!);
    assert.equal(await bytesOf(await next.outputs[0]!), 32_000);
    assert.equal(await next.exit, 0);
    assert.notEqual(nextShell, shell);
    assert.equal(ppidOf(nextShell), process.pid);
  });

  it('leaves no process running and no socket behind once the command is done', () => {
    const script = `
      import { launchFfmpeg } from ${JSON.stringify(path.resolve('src/services/analysis/ffmpeg_launcher.ts'))};
      let url = '';
      const run = await launchFfmpeg(([a]) => ${JSON.stringify(sine())}.concat((url = a)), 1);
      for await (const chunk of await run.outputs[0]) void chunk;
      console.log(await run.exit, (await import('node:path')).dirname(url.slice('unix:'.length)));
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^0 /);
    assert.ok(Date.now() - started < 15_000, 'the idle shell does not hold the process open');
    const socketDir = child.stdout.trim().split(' ')[1]!;
    assert.match(path.basename(socketDir), /^soniquebay-ffmpeg-/);
    assert.equal(fs.existsSync(socketDir), false, 'its socket folder is removed at exit');
  });
});
