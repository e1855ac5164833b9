// Shared by the reliability tests (test/chaos): worker processes started as a user starts them,
// an id-independent picture of the library, and "everything settled" waits.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Broker } from '../../src/broker/port.js';
import type { Db } from '../../src/db/types.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime } from '../../src/runtime.js';
import { testLogger } from './brokers.js';
import { drain, scan } from './runtimes.js';

export const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
/** the compiled command, as installed (npm run build): what memory figures are measured on */
export const BUILT_CLI = path.resolve(import.meta.dirname, '../../bin/soniquebay.js');

/** `SB_CHAOS=full` (npm run test:chaos) runs the long versions; npm test runs the quick ones. */
export const FULL_CHAOS = process.env.SB_CHAOS === 'full';

export interface CliProcess {
  child: ChildProcess;
  log(): string;
  /** resolves when the process has printed `text` (rejects if it exits first) */
  logged(text: string, timeoutMs?: number): Promise<void>;
  /** resolves when the process has exited */
  exited(): Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv, options: { built?: boolean } = {}): CliProcess {
  // built: the installed command itself, started through its #! line (and the node flags there)
  const child = options.built
    ? spawn(BUILT_CLI, args, { env: { ...env, PATH: `${path.dirname(process.execPath)}:${env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => out,
    async logged(text, timeoutMs = 30_000) {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        if (out.includes(text)) return;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited before "${text}":\n${out.slice(-3000)}`);
      }
      throw new Error(`process did not print "${text}" in ${timeoutMs} ms:\n${out.slice(-3000)}`);
    },
    exited: () => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : exit),
  };
}

export async function killHard(proc: CliProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGKILL');
  await proc.exited();
}

/** Queues with a running job right now: the stage a kill interrupts. */
export async function activeQueues(broker: Broker): Promise<string[]> {
  const counts = await broker.counts();
  return Object.entries(counts)
    .filter(([, c]) => c.active > 0)
    .map(([queue]) => queue);
}

/** Waits until no job is waiting, delayed or running, three polls in a row. */
export async function queuesIdle(broker: Broker, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let idle = 0; idle < 3; ) {
    const counts = await broker.counts();
    const busy = Object.values(counts).reduce((n, c) => n + c.waiting + c.delayed + c.active, 0);
    idle = busy === 0 ? idle + 1 : 0;
    if (Date.now() > deadline) throw new Error(`queues still busy: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * What a user sees of the library, without row ids: two runs over the same files must give equal
 * pictures whatever crashed in between. Counts of rows per table catch a second copy of any effect.
 */
export async function libraryPicture(db: Db) {
  const tracks = await db
    .selectFrom('tracks')
    .innerJoin('artists', 'artists.id', 'tracks.artist_id')
    .leftJoin('albums', 'albums.id', 'tracks.album_id')
    .select(['tracks.path', 'tracks.title', 'artists.name as artist', 'albums.title as album', 'tracks.duration'])
    .orderBy('tracks.path')
    .execute();
  const artistLinks = await db
    .selectFrom('track_artists')
    .innerJoin('tracks', 'tracks.id', 'track_artists.track_id')
    .innerJoin('artists', 'artists.id', 'track_artists.artist_id')
    .select(['tracks.path', 'artists.name', 'track_artists.position'])
    .orderBy('tracks.path')
    .orderBy('track_artists.position')
    .execute();
  const genreLinks = await db
    .selectFrom('track_genres')
    .innerJoin('tracks', 'tracks.id', 'track_genres.track_id')
    .innerJoin('genres', 'genres.id', 'track_genres.genre_id')
    .select(['tracks.path', 'genres.name'])
    .orderBy('tracks.path')
    .orderBy('genres.name')
    .execute();
  const names = async (table: 'artists' | 'genres') => (await db.selectFrom(table).select('name').orderBy('name').execute()).map((r) => r.name);
  const albums = (await db.selectFrom('albums').select('title').orderBy('title').execute()).map((r) => r.title);
  const errors = await db.selectFrom('scan_errors').select(['path', 'message']).orderBy('path').execute();
  const covers = await db.selectFrom('covers').select(['entity_type', 'source', 'hash']).orderBy('entity_type').orderBy('hash').orderBy('source').execute();
  const count = async (table: 'images' | 'track_analysis' | 'track_vectors' | 'track_tags' | 'folders') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const work = await db.selectFrom('work_state').select(['stage', 'status']).select((eb) => eb.fn.countAll<number>().as('n')).groupBy(['stage', 'status']).orderBy('stage').orderBy('status').execute();
  return {
    tracks,
    artistLinks,
    genreLinks,
    artists: await names('artists'),
    albums,
    genres: await names('genres'),
    errors,
    covers,
    images: await count('images'),
    analysed: await count('track_analysis'),
    vectors: await count('track_vectors'),
    tags: await count('track_tags'),
    folders: await count('folders'),
    work: work.map((w) => `${w.stage}:${w.status}:${Number(w.n)}`),
  };
}

/** The library a run without faults gives: `root` scanned and every queue drained, embedded. */
export async function referencePicture(env: NodeJS.ProcessEnv, root: string): Promise<Awaited<ReturnType<typeof libraryPicture>>> {
  const runtime = await openRuntime(loadConfig(env), testLogger);
  try {
    await scan(runtime, root);
    await drain(runtime.broker);
    return await libraryPicture(runtime.database.db);
  } finally {
    await runtime.close();
  }
}
