// The Celery drop-in: a real Python Celery client (Debian's python3-celery) sends tasks the way
// the music servers do, `soniquebay worker --celery` runs them, and AsyncResult.get() answers:
// results, our error messages as Python exceptions, unknown names as clean failures. Then, on the
// bridge alone: the states Celery clients see, and a bridge killed while it holds a message.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { openDatabase } from '../../src/db/open.js';
import { getScan } from '../../src/workers/scan/sessions.js';
import { redisUrl } from '../helpers/brokers.js';
import { CeleryClient, celeryDatabaseUrl } from '../helpers/celery.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
const CHILD = path.resolve(import.meta.dirname, '../helpers/celery-child.ts');
// Celery's keys have no prefix: this database is the Celery tests' own, emptied before and after
const CELERY_DB = 7;
const base = redisUrl();
const celeryUrl = base ? celeryDatabaseUrl(base, CELERY_DB) : '';
const skip = base ? false : 'needs REDIS_URL';

interface Started {
  child: ChildProcess;
  log: () => string;
}

/** starts a process and resolves once its output contains `ready` */
async function start(args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  for (const deadline = Date.now() + 30_000; !log.includes(ready); await new Promise((r) => setTimeout(r, 50))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`process did not get ready:\n${log}`);
  }
  return { child, log: () => log };
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const value = await read();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** our own environment without the settings a developer's shell may carry */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SONIQUEBAY_') || key.startsWith('CELERY_')) delete env[key];
  return env;
}

describe('Celery drop-in: a Python Celery client and `soniquebay worker --celery`', { skip }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let redis: Redis;
  let worker: Started;
  let client: CeleryClient;
  const prefix = `sbtest-${randomUUID().slice(0, 8)}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-celery-'));
    redis = new Redis(celeryUrl);
    await redis.flushdb();
    manifest = await generateLibrary({ tracks: 30, out: path.join(dir, 'music'), maxFfmpegTracks: 2 });
    const env = {
      ...cleanEnv(),
      SONIQUEBAY_DATA_DIR: path.join(dir, 'data'),
      // as the seed's deployments set them; our own jobs go to BullMQ on the same Redis
      CELERY_BROKER_URL: celeryUrl,
      CELERY_RESULT_BACKEND: celeryUrl,
      SONIQUEBAY_REDIS_PREFIX: prefix,
      SONIQUEBAY_ANALYSIS: 'false',
      SONIQUEBAY_OUTSIDE_LOOKUPS: 'false',
      SONIQUEBAY_LOG_LEVEL: 'info',
    };
    worker = await start([CLI, 'worker', '--celery', '--no-schedules'], env, 'worker started');
    client = new CeleryClient(celeryUrl, celeryUrl);
  });

  after(async () => {
    client?.close();
    if (worker) assert.equal(await stop(worker.child), 0, worker.log().slice(-3000));
    await redis?.flushdb();
    redis?.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** waits for a scan to end in the library database and returns it */
  const scanEnded = async (scanId: string) => {
    const database = openDatabase({ dataDir: path.join(dir, 'data') });
    try {
      return await until(`scan ${scanId}`, async () => {
        const scan = await getScan(database.db, scanId);
        return scan && scan.status !== 'running' ? scan : undefined;
      });
    } finally {
      await database.close();
    }
  };

  it('runs send_task("scan.discovery", args=[directory]) and answers AsyncResult.get(); the library is in the database', async () => {
    const id = await client.send('scan.discovery', { args: [manifest.root], queue: 'scan' });
    const answer = await client.get(id, 30);
    assert.equal(answer.status, 'SUCCESS', JSON.stringify(answer));
    const result = answer.result as { scanId: string; discovered: number };
    assert.equal(result.discovered, manifest.files.length);
    const scan = await scanEnded(result.scanId);
    assert.equal(scan.status, 'completed', scan.last_error ?? '');

    const database = openDatabase({ dataDir: path.join(dir, 'data') });
    try {
      const paths = new Set((await database.db.selectFrom('tracks').select('path').execute()).map((t) => t.path));
      const expected = Object.keys(manifest.tracks);
      assert.ok(expected.length > 0);
      assert.deepEqual(expected.filter((p) => !paths.has(p)), []);
    } finally {
      await database.close();
    }
  });

  it('runs the legacy scan_music_task(directory, None) as scan.discovery', async () => {
    const id = await client.send('scan_music_task', { args: [manifest.root, null], queue: 'scan' });
    const answer = await client.get(id, 30);
    assert.equal(answer.status, 'SUCCESS', JSON.stringify(answer));
    const scan = await scanEnded((answer.result as { scanId: string }).scanId);
    assert.equal(scan.status, 'completed');
    assert.equal(scan.unchanged, manifest.files.length);
  });

  it('raises our error message in Python when the task fails', async () => {
    const missing = path.join(dir, 'no-such-folder');
    const answer = await client.get(await client.send('scan.discovery', { args: [missing], queue: 'scan' }));
    assert.equal(answer.status, 'FAILURE');
    assert.equal(answer.error?.type, 'TaskError');
    assert.match(answer.error!.message, new RegExp(`^library root ${missing} is absent \\(ENOENT\\)`));
    assert.match(answer.traceback ?? '', /TaskError: library root/);
  });

  it('fails a task name it does not know, and a call that does not fit the task, with clear messages', async () => {
    const unknown = await client.get(await client.send('scan.discovry', { args: [manifest.root], queue: 'scan' }));
    assert.equal(unknown.status, 'FAILURE');
    assert.equal(unknown.error?.type, 'UnknownTaskError');
    assert.match(unknown.error!.message, /^unknown task "scan.discovry" \(did you mean "scan.discovery"\?\)/);

    const extra = await client.get(await client.send('scan.discovery', { args: ['/a', '/b'], queue: 'scan' }));
    assert.equal(extra.error?.type, 'PayloadValidationError');
    assert.equal(extra.error?.message, 'invalid payload for scan.discovery: takes at most 1 positional argument(s) (root), got 2');

    const wrongType = await client.get(await client.send('scan.discovery', { kwargs: { root: 5 }, queue: 'scan' }));
    assert.equal(wrongType.error?.type, 'PayloadValidationError');
    assert.match(wrongType.error!.message, /^invalid payload for scan.discovery: root: /);

    // answered, so acknowledged: nothing is left waiting or held (the bridge stores the answer,
    // then acknowledges: the acknowledgement may land just after the client has read the answer)
    assert.equal(await redis.llen('scan'), 0);
    await until('the answered messages acknowledged', async () => ((await redis.hlen(`${prefix}:celery:processing`)) === 0 ? true : undefined), 5_000);
  });
});

describe('Celery bridge: task states and a bridge killed while it holds a message', { skip }, () => {
  let dir: string;
  let redis: Redis;
  let client: CeleryClient;
  let env: NodeJS.ProcessEnv;
  let bridge: Started;
  const children: ChildProcess[] = [];
  const startBridge = async () => {
    bridge = await start([CHILD], env, 'ready');
    children.push(bridge.child);
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-celery-crash-'));
    redis = new Redis(celeryUrl);
    await redis.flushdb();
    env = { ...cleanEnv(), SB_TEST_DIR: dir, CELERY_BROKER_URL: celeryUrl, CELERY_RESULT_BACKEND: celeryUrl };
    client = new CeleryClient(celeryUrl, celeryUrl);
    await startBridge();
  });

  after(async () => {
    client?.close();
    for (const child of children) await stop(child);
    await redis?.flushdb();
    redis?.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes STARTED, RETRY and SUCCESS as the job runs, fails and runs again', async () => {
    const listener = redis.duplicate();
    const states: string[] = [];
    await listener.psubscribe('celery-task-meta-*');
    listener.on('pmessage', (_pattern, _channel, message: string) => states.push((JSON.parse(message) as { status: string }).status));
    try {
      const id = await client.send('t.flaky', { kwargs: { key: 'flaky', failTimes: 1 }, queue: 'celery' });
      const answer = await client.get(id);
      assert.deepEqual([answer.status, answer.result], ['SUCCESS', { attempts: 2 }]);
      assert.deepEqual(states, ['STARTED', 'RETRY', 'STARTED', 'SUCCESS']);
    } finally {
      listener.disconnect();
    }
  });

  it('maps a legacy alias\'s positional arguments, from a priority list, uncompressed', async () => {
    const id = await client.send('legacy_echo', { args: ['k', 'hello'], queue: 'celery', priority: 5, compression: null });
    assert.deepEqual(await client.get(id), { status: 'SUCCESS', result: { echo: 'hello' } });
  });

  it('answers the messages it cannot run, and keeps the unreadable ones', async () => {
    /** a kombu envelope as Celery's Redis transport stores it */
    const envelope = (id: string, body: unknown, extra: { contentType?: string; headers?: Record<string, unknown> } = {}) =>
      JSON.stringify({
        body: Buffer.from(JSON.stringify(body)).toString('base64'),
        'content-encoding': 'utf-8',
        'content-type': extra.contentType ?? 'application/json',
        headers: { lang: 'py', task: 't.echo', id, ...extra.headers },
        properties: { correlation_id: id, delivery_info: { exchange: '', routing_key: 'celery' }, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID() },
      });
    const [pickled, chained, expired] = [randomUUID(), randomUUID(), randomUUID()];
    await redis.lpush('celery', envelope(pickled, [[], {}, null], { contentType: 'application/x-python-serialize' }));
    await redis.lpush('celery', envelope(chained, [[], { key: 'c', value: 'v' }, { callbacks: null, errbacks: null, chain: [{ task: 't.echo' }], chord: null }]));
    await redis.lpush('celery', envelope(expired, [[], { key: 'e', value: 'v' }, null], { headers: { expires: '2001-01-01T00:00:00+00:00' } }));
    await redis.lpush('celery', '{"body": "not a kombu message"');

    const answers = await Promise.all([pickled, chained, expired].map((id) => client.get(id)));
    assert.deepEqual(answers.map((a) => [a.status, a.error?.type]), [['FAILURE', 'CeleryMessageError'], ['FAILURE', 'CeleryMessageError'], ['REVOKED', 'TaskRevokedError']]);
    assert.match(answers[0]!.error!.message, /content type "application\/x-python-serialize" is not supported: .*JSON/);
    assert.match(answers[1]!.error!.message, /Celery canvas \(chain\) is not supported/);
    assert.equal(answers[2]!.error!.message, 'expired');
    const rejected = await until('the dead letter', async () => (await redis.lrange('sbtest:celery:rejected', 0, -1))[0]);
    assert.equal(rejected, 'celery\n{"body": "not a kombu message"');
    await until('the answered messages acknowledged', async () => ((await redis.hlen('sbtest:celery:processing')) === 0 ? true : undefined), 5_000);
  });

  it('delivers a held message again after its bridge was killed, and the task completes once', async () => {
    const work = path.join(dir, 'work');
    fs.mkdirSync(work);
    const id = await client.send('t.crashable', { kwargs: { dir: work, workMs: 3_000 }, queue: 'celery' });
    await until('the task to start', async () => (fs.readdirSync(work).some((f) => f.startsWith('started-')) ? true : undefined));
    assert.equal(await client.state(id), 'STARTED');
    await stop(bridge.child, 'SIGKILL');
    // taken but not acknowledged: held in the processing hash, not lost
    assert.equal(await redis.llen('celery'), 0);
    assert.equal(await redis.hlen('sbtest:celery:processing'), 1);

    await startBridge();
    const answer = await client.get(id, 25);
    assert.deepEqual([answer.status, answer.result], ['SUCCESS', { pid: bridge.child.pid }]);
    assert.deepEqual(fs.readFileSync(path.join(work, 'effects'), 'utf8').trim().split('\n'), [String(bridge.child.pid)]);
    // the bridge acknowledges after it has stored the result, so the hash empties just after the answer
    await until('the message acknowledged', async () => ((await redis.hlen('sbtest:celery:processing')) === 0 ? true : undefined), 5_000);
  });
});
