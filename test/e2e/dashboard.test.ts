// The dashboard in a real browser (Debian's chromium driven by playwright-core): the page loads,
// a click on Scan starts a scan of the library root, and the progress bar reaches 100 %.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { generateLibrary } from '../../scripts/fixtures.js';
import { buildApi } from '../../src/api/server.js';
import type { WorkerHandle } from '../../src/broker/port.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/brokers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium for the dashboard test`);

describe('dashboard in Chromium', { skip: available ? false : `no browser at ${CHROMIUM} (apt-get install chromium)` }, () => {
  let dir: string;
  let runtime: Runtime;
  let worker: WorkerHandle;
  let api: Awaited<ReturnType<typeof buildApi>>;
  let browser: Browser;
  let base: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-dash-'));
    const manifest = await generateLibrary({ tracks: 600, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
    runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false, analysis: false, libraryRoots: [manifest.root] }, testLogger);
    worker = await runtime.broker.startWorker();
    api = await buildApi({ runtime, host: '127.0.0.1' });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
  });
  after(async () => {
    await browser?.close();
    await api?.close();
    await worker?.close();
    await runtime?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts a scan from the page and shows its progress bar reaching 100 %', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(base);
    await page.waitForSelector('#connection:text("live")', { timeout: 10_000 });
    await page.waitForSelector('#root option', { state: 'attached' });
    const seen = new Set<string>();
    await page.exposeFunction('recordProgress', (value: string) => seen.add(value));
    // browser-side code as text: the test's TypeScript has no DOM types
    await page.evaluate(`new MutationObserver(() => recordProgress(document.getElementById('scan-bar').getAttribute('aria-valuenow'))).observe(document.getElementById('scan-bar'), { attributes: true })`);
    await page.click('#scan-button');
    await page.waitForSelector('#scan-bar[aria-valuenow="100"]', { timeout: 60_000 });
    assert.match((await page.textContent('#scan-text')) ?? '', /^completed: 100%/);
    assert.ok(seen.size >= 2, `the bar moved: ${[...seen].join(', ')}`);
    await page.waitForFunction(`Number(document.querySelector('#stats b')?.textContent) > 0`, undefined, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  });
});
