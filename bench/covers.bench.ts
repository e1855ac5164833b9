// bench:covers — images/s of the covers pipeline (read the embedded picture of each track, store
// it once, render 4 sizes in WebP and JPEG, link it) against a bare sharp loop that renders the
// same outputs from pictures already in memory, measured in the same run.
//   npm run bench:covers      (BENCH_COVERS=200 tracks, BENCH_COVER_PX=1200, BENCH_RUNS=3)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import sharp from 'sharp';
import { mp3WithTags, stripId3 } from '../scripts/tag-writers.js';
import { loadConfig } from '../src/config.js';
import { openRuntime } from '../src/runtime.js';
import { getScan } from '../src/workers/scan/sessions.js';
import { intEnv, median } from './helpers.js';

const COUNT = intEnv('BENCH_COVERS', 200);
const PX = intEnv('BENCH_COVER_PX', 1200);
const RUNS = intEnv('BENCH_RUNS', 3);
const SIZES = [64, 256, 512, 1024];
const CONCURRENCY = 2; // the covers queue's default

/** distinct, photo-like covers: a gradient with noise, so JPEG decoding costs what real art costs */
async function makeCovers(dir: string): Promise<Buffer[]> {
  const covers: Buffer[] = [];
  for (let i = 0; i < COUNT; i++) {
    const noise = Buffer.alloc(PX * PX * 3);
    for (let p = 0; p < noise.length; p += 3) {
      const x = (p / 3) % PX;
      const y = Math.floor(p / 3 / PX);
      noise[p] = (x * 255) / PX + Math.random() * 40;
      noise[p + 1] = (y * 255) / PX + Math.random() * 40;
      noise[p + 2] = ((i * 37) % 255) + Math.random() * 40;
    }
    covers.push(await sharp(noise, { raw: { width: PX, height: PX, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  }
  fs.mkdirSync(dir, { recursive: true });
  return covers;
}

async function bareSharp(covers: Buffer[], out: string): Promise<number> {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < covers.length) {
        const i = next++;
        fs.writeFileSync(path.join(out, `${i}.orig.jpg`), covers[i]!);
        for (const size of SIZES) {
          await sharp(covers[i]!).resize(size, size, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toFile(path.join(out, `${i}-${size}.webp`));
          await sharp(covers[i]!).resize(size, size, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).jpeg({ quality: 85 }).toFile(path.join(out, `${i}-${size}.jpg`));
        }
      }
    }),
  );
  return performance.now() - started;
}

async function pipeline(music: string, dataDir: string): Promise<number> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  const runtime = await openRuntime({ ...loadConfig({}), dataDir, outsideLookups: false }, pino({ level: 'silent' }));
  try {
    // the scan queues the covers jobs; they are timed on their own afterwards
    const scanWorker = await runtime.broker.startWorker({ queues: ['scan', 'extract', 'batch'] });
    const scanId = crypto.randomUUID();
    await runtime.broker.enqueue('scan.discovery', { root: music, scanId });
    while ((await getScan(runtime.database.db, scanId))?.status !== 'completed') await new Promise((r) => setTimeout(r, 20));
    await scanWorker.close();
    const started = performance.now();
    const worker = await runtime.broker.startWorker({ queues: ['covers'], concurrency: { covers: CONCURRENCY } });
    for (;;) {
      const c = (await runtime.broker.counts()).covers!;
      if (c.waiting + c.active + c.delayed === 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const elapsed = performance.now() - started;
    await worker.close();
    const stored = await runtime.database.db.selectFrom('images').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    if (Number(stored.n) !== COUNT) throw new Error(`expected ${COUNT} stored images, found ${stored.n}`);
    return elapsed;
  } finally {
    await runtime.close();
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-covers-'));
try {
  console.log(`# bench:covers  node ${process.version}, ${os.availableParallelism()} CPU(s), load ${os.loadavg()[0]!.toFixed(2)}; ${COUNT} covers of ${PX}x${PX} px, sizes ${SIZES.join('/')} in WebP+JPEG, concurrency ${CONCURRENCY}`);
  const covers = await makeCovers(work);
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-b:a', '64k', path.join(work, 'base.mp3')]);
  const audio = stripId3(fs.readFileSync(path.join(work, 'base.mp3')));
  const music = path.join(work, 'music');
  covers.forEach((cover, i) => {
    const dir = path.join(music, `Artist ${i % 20}`, `Album ${i}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, '01.mp3'), mp3WithTags(audio, { title: `T${i}`, artists: [`Artist ${i % 20}`], album: `Album ${i}`, cover: { mime: 'image/jpeg', data: cover } }));
  });

  const ours: number[] = [];
  const bare: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // alternate, so both see the same machine
    bare.push(await bareSharp(covers, path.join(work, 'bare')));
    ours.push(await pipeline(music, path.join(work, 'data')));
    console.log(`  run ${run + 1}: pipeline ${((COUNT * 1000) / ours[run]!).toFixed(1)} images/s, bare sharp ${((COUNT * 1000) / bare[run]!).toFixed(1)} images/s, ratio ${(ours[run]! / bare[run]!).toFixed(2)}`);
  }
  const ratio = median(ours.map((o, i) => o / bare[i]!));
  console.log('');
  console.log('| (median of runs)                                  | images/s | ms/image |');
  console.log('|---------------------------------------------------|---------:|---------:|');
  console.log(`| covers pipeline (extract + store + 8 renditions)  | ${((COUNT * 1000) / median(ours)).toFixed(1).padStart(8)} | ${(median(ours) / COUNT).toFixed(1).padStart(8)} |`);
  console.log(`| bare sharp loop (8 renditions from memory)        | ${((COUNT * 1000) / median(bare)).toFixed(1).padStart(8)} | ${(median(bare) / COUNT).toFixed(1).padStart(8)} |`);
  console.log(`pipeline time / bare sharp time: ${ratio.toFixed(2)} (median of paired runs; target <= 1.3): ${ratio <= 1.3 ? 'MET' : 'NOT MET'}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
