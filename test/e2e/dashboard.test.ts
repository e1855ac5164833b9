// The dashboard in a real browser (Debian's chromium driven by playwright-core), on a fresh install:
// add a music folder, scan it and watch the bar reach 100 %, search a track, open it, see its
// analysis and similar tracks, make a playlist, retry a failed job. Every page is checked at 390 px
// and 1400 px wide, light and dark: no horizontal overflow, no broken image, every control named,
// text contrast of at least 4.5:1 (3:1 for large text). Screenshots go to $SB_SCREENSHOTS (default:
// <tmp>/sb-dashboard-shots).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { generateLibrary, type FixtureManifest } from '../../scripts/fixtures.js';
import { buildApi } from '../../src/api/server.js';
import type { WorkerHandle } from '../../src/broker/port.js';
import { loadConfig } from '../../src/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { activeModel } from '../../src/services/vectors/store.js';
import { testLogger } from '../helpers/brokers.js';
import { insertSyntheticLibrary } from '../helpers/vector-library.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium for the dashboard test`);
const SHOTS = process.env.SB_SCREENSHOTS ?? path.join(os.tmpdir(), 'sb-dashboard-shots');

/** runs in the page (as text: the test's TypeScript has no DOM types); returns what is wrong */
const PAGE_CHECKS = `(() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) problems.push('horizontal overflow: ' + root.scrollWidth + ' > ' + root.clientWidth);
  for (const img of document.images) if (!img.complete || img.naturalWidth === 0) problems.push('broken image ' + img.src);
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
    if (!visible(el)) continue;
    const label = el.id ? document.querySelector('label[for="' + el.id + '"]') : null;
    const name = el.getAttribute('aria-label') || (label && label.textContent.trim()) || el.textContent.trim() || el.getAttribute('title');
    if (!name) problems.push('control without a name: ' + el.outerHTML.slice(0, 100));
  }
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    let out = { r: 255, g: 255, b: 255 };
    for (const c of layers.reverse()) out = { r: c.r * c.a + out.r * (1 - c.a), g: c.g * c.a + out.g * (1 - c.a), b: c.b * c.a + out.b * (1 - c.a) };
    return out;
  };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('[disabled], [aria-hidden="true"]')) continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join('');
    if (!text) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const color = { r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a) };
    const [hi, lo] = [lum(color), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ' of "' + text.slice(0, 40) + '"');
  }
  return problems;
})()`;

describe('dashboard in Chromium', { skip: available ? false : `no browser at ${CHROMIUM} (apt-get install chromium)` }, () => {
  let dir: string;
  let manifest: FixtureManifest;
  let runtime: Runtime;
  let worker: WorkerHandle;
  let api: Awaited<ReturnType<typeof buildApi>>;
  let browser: Browser;
  let base: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-dash-'));
    fs.mkdirSync(SHOTS, { recursive: true });
    manifest = await generateLibrary({ tracks: 120, out: path.join(dir, 'music'), maxFfmpegTracks: 4 });
    // a fresh install: no library root configured anywhere
    runtime = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'data'), outsideLookups: false, analysis: false, libraryRoots: [] }, testLogger);
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

  /** a page of its own (closed with the test: each holds a live-events connection) */
  async function open(t: TestContext, width: number, hash = '', at = base): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    t.after(() => page.close());
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${at}/${hash}`);
    return { page, errors };
  }

  /** the page as it stands, in both themes: screenshots, then the checks */
  async function inspect(t: TestContext, page: Page, name: string): Promise<void> {
    await page.waitForLoadState('networkidle').catch(() => undefined);
    // lazy covers below the fold load once scrolled to
    await page.evaluate(`window.scrollTo(0, document.body.scrollHeight)`);
    await page.waitForFunction(`[...document.images].every((i) => i.complete)`, undefined, { timeout: 10_000 });
    for (const theme of ['light', 'dark']) {
      await page.evaluate(`document.documentElement.dataset.theme = ${JSON.stringify(theme)}`);
      const width = page.viewportSize()!.width;
      await page.screenshot({ path: path.join(SHOTS, `${name}-${width}-${theme}.png`), fullPage: true });
      const problems = (await page.evaluate(PAGE_CHECKS)) as string[];
      assert.deepEqual(problems, [], `${name} at ${width} px, ${theme}`);
    }
    t.diagnostic(`${name}: checked at ${page.viewportSize()!.width} px, light and dark`);
  }

  it('adds a music folder on a fresh install, scans it and shows the bar reaching 100 %', async (t) => {
    const { page, errors } = await open(t, 1400);
    const paint = (await page.evaluate(`new Promise((resolve) => { const get = () => performance.getEntriesByName('first-contentful-paint')[0]; const e = get(); if (e) return resolve(e.startTime); new PerformanceObserver(() => resolve(get().startTime)).observe({ type: 'paint', buffered: true }); })`)) as number;
    t.diagnostic(`first contentful paint: ${paint.toFixed(0)} ms`);
    assert.ok(paint < 3_000, `first paint after ${paint} ms`);
    await page.waitForSelector('#connection:text("live")', { timeout: 10_000 });
    await page.waitForSelector('text=No music folder yet');
    await inspect(t, page, 'fresh');
    await page.fill('#root-path', manifest.root);
    const seen = new Set<string>();
    await page.exposeFunction('recordProgress', (value: string) => seen.add(value));
    await page.evaluate(`new MutationObserver(() => recordProgress(document.getElementById('scan-bar').getAttribute('aria-valuenow'))).observe(document.getElementById('scan-bar'), { attributes: true })`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#scan-bar[aria-valuenow="100"]', { timeout: 60_000 });
    assert.match((await page.textContent('#scan-text')) ?? '', /^completed: 100%/);
    assert.ok(seen.size >= 2, `the bar moved: ${[...seen].join(', ')}`);
    await page.waitForFunction(`Number(document.querySelector('#stats b')?.textContent.replace(/,/g, '')) > 0`, undefined, { timeout: 10_000 });
    // covers are linked just after the scan: the overview refreshes on the next library event (or every 15 s)
    await page.waitForSelector('#recent img', { timeout: 30_000 });
    // after a reload the root and its last scan are still there
    await page.reload();
    await page.waitForSelector(`.roots code:text("${manifest.root}")`);
    await page.waitForSelector('#scan-text:text("completed: 100%")');
    await inspect(t, page, 'overview');
    const phone = await open(t, 390);
    await phone.page.waitForSelector('#scan-text:text("completed: 100%")');
    await inspect(t, phone.page, 'overview');
    await phone.page.goto(`${base}/#/library/albums`);
    await phone.page.waitForSelector('.covers a');
    await inspect(t, phone.page, 'albums');
    await page.goto(`${base}/#/library/albums`);
    await page.waitForSelector('.covers a');
    assert.ok((await page.locator('.covers img').count()) > 0, 'covers shown');
    assert.ok((await page.locator('.covers .placeholder').count()) > 0, 'placeholders for albums without art');
    await inspect(t, page, 'albums');
    await page.goto(`${base}/#/problems`);
    await page.waitForSelector('h2:text("Files that could not be read")');
    assert.ok((await page.locator('section[aria-label="Unreadable files"] tbody tr').count()) > 0);
    await inspect(t, page, 'problems');
    await phone.page.goto(`${base}/#/problems`);
    await phone.page.waitForSelector('h2:text("Missing tracks")');
    await inspect(t, phone.page, 'problems');
    assert.deepEqual([...errors, ...phone.errors], []);
  });

  it('finds a track, shows its analysis and similar tracks, and makes a playlist from it', async (t) => {
    // a library of its own, analysed, in four groups of known neighbours
    const analysed = await openRuntime({ ...loadConfig({}), dataDir: path.join(dir, 'analysed'), outsideLookups: false, analysis: false }, testLogger);
    const vectorWorker = await analysed.broker.startWorker({ queues: ['vectorization'] });
    const server = await buildApi({ runtime: analysed, host: '127.0.0.1' });
    const at = await server.listen({ host: '127.0.0.1', port: 0 });
    t.after(async () => {
      await server.close();
      await vectorWorker.close();
      await analysed.close();
    });
    const { db } = analysed.database;
    await insertSyntheticLibrary(db, 12);
    const ref = await analysed.broker.enqueue('vectorization.train_model', { reason: 'dashboard test', force: true });
    const trained = await analysed.broker.waitForJob(ref.id, 60_000);
    assert.equal(trained?.state, 'completed', trained?.error ?? '');
    const version = (trained?.result as { version: number }).version;
    for (let i = 0; (await activeModel(db))?.version !== version; i++) {
      assert.ok(i < 600, 'the model became active');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const width of [1400, 390]) {
      const { page, errors } = await open(t, width, '#/library/tracks', at);
      await page.fill('#search', 'jazz 3');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#results a:text-is("jazz 3")');
      await inspect(t, page, 'search');
      await page.click('#results a:text-is("jazz 3")');
      await page.waitForSelector('dl#analysis');
      assert.match((await page.textContent('dl#analysis')) ?? '', /BPM\s*\d+(\.\d)?/);
      await page.waitForSelector('#similar li');
      const similar = await page.locator('#similar li').allTextContents();
      assert.ok(similar.length >= 5 && similar.filter((s) => s.startsWith('jazz')).length >= 4, similar.join(' | '));
      await page.focus('#make-playlist');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#playlist li');
      assert.ok((await page.locator('#playlist li').count()) >= 10);
      await inspect(t, page, 'track');
      assert.deepEqual(errors, []);
    }
  });

  it('retries a failed job from the Queues page', async (t) => {
    const ref = await runtime.broker.enqueue('scan.discovery', { root: path.join(dir, 'not-there') });
    const failed = await runtime.broker.waitForJob(ref.id, 30_000);
    assert.equal(failed?.state, 'failed');
    const { page, errors } = await open(t, 1400, '#/queues');
    await page.waitForSelector(`button[data-job="${ref.id}"]`);
    await inspect(t, page, 'queues');
    await page.click(`button[data-job="${ref.id}"]`);
    await page.waitForSelector('text=1 job(s) put back in their queue');
    // it ran again (and failed again: the folder is still not there)
    for (let i = 0; ; i++) {
      const job = await runtime.broker.getJob(ref.id);
      if (job?.state === 'failed' && job.finishedAt! > failed!.finishedAt!) break;
      assert.ok(i < 300, `the job ran again: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const phone = await open(t, 390, '#/queues');
    await phone.page.waitForSelector('#queues table');
    await inspect(t, phone.page, 'queues');
    assert.deepEqual([...errors, ...phone.errors], []);
  });
});
