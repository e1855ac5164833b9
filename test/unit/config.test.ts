import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConcurrencyFlag, redactUrl } from '../../src/config.js';
import { queueSettingsFrom } from '../../src/runtime.js';

function tempFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-config-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, content);
  return file;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('defaults to the embedded runtime with SQLite in ./data', () => {
    const config = loadConfig({});
    assert.equal(config.dataDir, path.resolve('./data'));
    assert.equal(config.brokerUrl, undefined);
    assert.equal(config.databaseUrl, undefined);
    assert.deepEqual(config.libraryRoots, []);
  });

  it('reads the environment, with the seed\'s CELERY_BROKER_URL as a fallback', () => {
    const config = loadConfig({
      SONIQUEBAY_DATA_DIR: '/srv/sb',
      SONIQUEBAY_LIBRARY_ROOTS: '/music/a, b:/music/c',
      CELERY_BROKER_URL: 'redis://redis:6379/0',
      SONIQUEBAY_DATABASE_URL: 'postgres://u:p@db/sb',
      SONIQUEBAY_CONCURRENCY: 'extract=4,covers=3',
      SONIQUEBAY_CONCURRENCY_SCAN: '2',
    });
    assert.equal(config.dataDir, '/srv/sb');
    assert.deepEqual(config.libraryRoots, ['/music/a, b', '/music/c']);
    assert.equal(config.brokerUrl, 'redis://redis:6379/0');
    assert.equal(config.databaseUrl, 'postgres://u:p@db/sb');
    const queues = queueSettingsFrom(config);
    assert.equal(queues.extract.concurrency, 4);
    assert.equal(queues.covers.concurrency, 3);
    assert.equal(queues.scan.concurrency, 2);
    assert.equal(loadConfig({ SONIQUEBAY_BROKER_URL: 'redis://a', CELERY_BROKER_URL: 'redis://b' }).brokerUrl, 'redis://a');
  });

  it('lets the environment override the config file', () => {
    const file = tempFile(JSON.stringify({ dataDir: '/from/file', queues: { extract: { concurrency: 8 } }, logLevel: 'debug' }));
    const config = loadConfig({ SONIQUEBAY_DATA_DIR: '/from/env' }, file);
    assert.equal(config.dataDir, '/from/env');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.queues.extract?.concurrency, 8);
  });

  it('names the environment variable of a bad value', () => {
    const found = problems(() => loadConfig({ SONIQUEBAY_CONCURRENCY_EXTRACT: 'lots' }));
    assert.equal(found.length, 1);
    assert.match(found[0]!, /^SONIQUEBAY_CONCURRENCY_EXTRACT="lots": .*number/);
    assert.match(problems(() => loadConfig({ CELERY_BROKER_URL: 'amqp://guest@rabbit' }))[0]!, /^CELERY_BROKER_URL=.*redis:\/\//);
    assert.match(problems(() => loadConfig({ TZ: 'Mars/Olympus' }))[0]!, /^TZ=.*timezone/);
  });

  it('names the file and key of a bad value, and rejects unknown keys and queues', () => {
    const file = tempFile(JSON.stringify({ queues: { extract: { concurrency: 0 }, bogus: { concurrency: 1 } }, dataDri: 'x' }));
    const found = problems(() => loadConfig({}, file));
    assert.ok(found.some((p) => p.includes(`${file}: key "queues.extract.concurrency"`)), found.join('\n'));
    assert.ok(found.some((p) => /bogus/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /dataDri/.test(p)), found.join('\n'));
  });

  it('says in words what is wrong with a value (zod\'s English messages, not "Invalid input")', () => {
    const file = tempFile(JSON.stringify({ api: { port: 99_999 }, covers: { sizes: [] }, logLevel: 'loud', providerUrls: { deezer: 'not a url' }, retention: { completedMaxAgeHours: -1 } }));
    const found = problems(() => loadConfig({ SONIQUEBAY_LOCK_MS: '5', SONIQUEBAY_SCAN_THREADS: '1.5' }, file));
    const expected = [
      `${file}: key "api.port": Too big: expected number to be <=65535`,
      `${file}: key "covers.sizes": Too small: expected array to have >=1 items`,
      `${file}: key "logLevel": Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"`,
      `${file}: key "providerUrls.deezer": Invalid URL`,
      `${file}: key "retention.completedMaxAgeHours": Too small: expected number to be >0`,
      'SONIQUEBAY_LOCK_MS="5": Too small: expected number to be >=1000',
      'SONIQUEBAY_SCAN_THREADS="1.5": Invalid input: expected int, received number',
    ];
    assert.deepEqual([...found].sort(), [...expected].sort());
  });

  it('explains an unreadable or malformed config file', () => {
    assert.match(problems(() => loadConfig({}, '/nonexistent/sb.json'))[0]!, /cannot be read \(ENOENT\)/);
    assert.match(problems(() => loadConfig({}, tempFile('{ nope')))[0]!, /not valid JSON/);
  });

  it('parses --concurrency and refuses unknown queues', () => {
    assert.deepEqual(parseConcurrencyFlag('extract=4,batch=1'), { extract: 4, batch: 1 });
    assert.throws(() => parseConcurrencyFlag('extrct=4'), /unknown queue "extrct"/);
    assert.throws(() => parseConcurrencyFlag('extract=0'), /not a positive integer/);
  });

  it('hides passwords when printing URLs', () => {
    assert.equal(redactUrl('redis://:secret@host:6379/0'), 'redis://:***@host:6379/0');
  });
});
