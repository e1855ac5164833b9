import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { ScanTable } from '../db/types.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { DiskFullWatch, diskFullMessage } from '../db/disk_space.js';
import { beginScan, failScan, getScan, requestCancel } from '../workers/scan/sessions.js';
import { dropPrefetchedWalk } from '../workers/scan/walk_prefetch.js';
import { configOf, loggerOf, withRuntime } from './context.js';
import { interactive, note, printJson, printLine, status } from './output.js';

export interface ScanSummary {
  scanId: string;
  root: string;
  status: ScanTable['status'];
  seconds: number;
  filesPerSecond: number;
  discovered: number;
  unchanged: number;
  extracted: number;
  inserted: number;
  updated: number;
  moved: number;
  removed: number;
  failed: number;
  /** files that are not audio, by extension ({".mid": 30}) */
  skipped: Record<string, number>;
  lastError: string | null;
}

export function summarize(scan: ScanTable): ScanSummary {
  const seconds = ((scan.finished_at ?? Date.now()) - scan.started_at) / 1000;
  return {
    scanId: scan.id,
    root: scan.root_path,
    status: scan.status,
    seconds: Math.round(seconds * 100) / 100,
    filesPerSecond: seconds > 0 ? Math.round(scan.discovered / seconds) : scan.discovered,
    discovered: scan.discovered,
    unchanged: scan.unchanged,
    extracted: scan.extracted,
    inserted: scan.inserted,
    updated: scan.updated,
    moved: scan.moved,
    removed: scan.removed,
    failed: scan.failed,
    skipped: scan.skipped ? (JSON.parse(scan.skipped) as Record<string, number>) : {},
    lastError: scan.last_error,
  };
}

function progressLine(scan: ScanTable): string {
  const elapsed = (Date.now() - scan.started_at) / 1000;
  const done = scan.extracted + scan.failed;
  const handled = scan.unchanged + done;
  const rate = elapsed > 0 ? handled / elapsed : 0;
  if (!scan.walk_done && scan.status === 'running') {
    return `discovering…  ${scan.queued} to read, ${done} read, ${scan.failed} failed  ${Math.round(rate)} files/s`;
  }
  const total = Math.max(scan.queued, 1);
  // a finished scan is a full bar, whatever the counts (nothing was left to read)
  const ratio = scan.status === 'completed' ? 1 : Math.min(1, done / total);
  const width = 30;
  const bar = '#'.repeat(Math.round(ratio * width)).padEnd(width, '-');
  const perSecond = elapsed > 0 ? done / elapsed : 0;
  const eta = scan.status === 'running' && perSecond > 0 ? Math.round((scan.queued - done) / perSecond) : 0;
  return `[${bar}] ${Math.round(ratio * 100)}%  ${done}/${scan.queued} read  ${scan.unchanged} unchanged  ${scan.failed} failed  ${Math.round(rate)} files/s  ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, '0')}`;
}

/**
 * What the scan command's own worker consumes: the scan itself and the linking of local art (embedded
 * pictures, cover/folder files), so that `covers missing` is right when it returns. Analysis,
 * enrichment, outside art and vectors stay queued for `run`/`serve --embedded`: the command ends
 * with the scan instead of starting them.
 */
export const SCAN_ONLY_QUEUES = ['scan', 'extract', 'batch', 'covers'] as const;
/**
 * How often the command looks at its scan: a cheap read by primary key, so often enough that the
 * command returns within a few milliseconds of the scan's end (an unchanged rescan takes ~0.3 s;
 * at 100 ms it waited 50 ms on average for nothing). With its own worker it also looks as soon as
 * one of that worker's jobs ends (see `jobEnds`). The live line is redrawn at most every 100 ms.
 */
const FOLLOW_POLL_MS = 20;
const REDRAW_MS = 100;
/** queues whose waiting jobs the summary names as follow-up work */
const FOLLOW_UP_QUEUES: Record<string, string> = { metadata: 'analysis and enrichment', vectorization: 'vectors', covers: 'covers', deferred: 'cover sizes and deferred sweeps' };

/** One line: the later stages this scan left in the queues for `run`/`serve`. */
async function followUpLine(runtime: Runtime): Promise<string | null> {
  const counts = await runtime.broker.counts();
  const parts = Object.entries(FOLLOW_UP_QUEUES)
    .map(([queue, what]) => ({ what, n: (counts[queue]?.waiting ?? 0) + (counts[queue]?.delayed ?? 0) }))
    .filter((p) => p.n > 0)
    .map((p) => `${p.what} ${p.n} job(s)`);
  return parts.length > 0 ? `follow-up work queued for \`soniquebay run\` (or \`serve --embedded\`): ${parts.join(', ')}` : null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The follow loop's pause with the embedded runtime: FOLLOW_POLL_MS, cut short when a job of this
 * process's worker completes or fails (the discovery job's end is the scan's end when nothing was
 * read: an unchanged rescan returned on the next poll, 10 ms later on average).
 */
async function jobEnds(runtime: Runtime): Promise<{ wait: () => Promise<void>; close: () => Promise<void> }> {
  let wake: (() => void) | undefined;
  let ended = false; // a job ended while the loop was reading its scan: the next pause is none
  const unsubscribe = await runtime.broker.subscribe((event) => {
    if (event.type !== 'completed' && event.type !== 'failed') return;
    if (wake) wake();
    else ended = true;
  });
  return {
    wait: () =>
      new Promise<void>((resolve) => {
        if (ended) {
          ended = false;
          resolve();
          return;
        }
        const timer = setTimeout(done, FOLLOW_POLL_MS);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      }),
    close: unsubscribe,
  };
}

export function scanCommand(): Command {
  const scan = new Command('scan')
    .description('scans a music folder into the library (adds it as a library root) and links its local art, with live progress')
    .argument('<dir>', 'the music folder')
    .option('--full', 're-read every file, changed or not')
    .option('--no-worker', 'only queue and follow the scan: workers elsewhere do the work')
    .option('--json', 'print the summary as JSON')
    .action(async (dir: string, opts: { full?: boolean; worker: boolean; json?: boolean }, command: Command) => {
      const root = path.resolve(dir);
      if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`${root} is not a folder`);
      try {
        fs.readdirSync(root);
      } catch (err) {
        throw new Error(`cannot list ${root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const config = configOf(command);
      const runtime = await openRuntime(config, loggerOf(command, config));
      const { db } = runtime.database;
      try {
        const worker = opts.worker ? await runtime.broker.startWorker({ queues: SCAN_ONLY_QUEUES }) : undefined;
        const pause = worker && runtime.broker.kind === 'embedded' ? await jobEnds(runtime) : { wait: () => sleep(FOLLOW_POLL_MS), close: async () => undefined };
        let jobId: string | undefined;
        const { scanId, started } = await beginScan(db, root, opts.full === true, async (payload) => {
          const ref = await runtime.broker.enqueue('scan.discovery', payload, { jobId: `scan-${payload.scanId}` });
          jobId = ref.id;
          return ref;
        });
        if (!started) note(`a scan of ${root} is already running (${scanId}): following it`);
        const live = interactive() && !opts.json;
        let lastPrinted = 0;
        let lastDrawn = 0;
        const draw = (text: string, now = false) => {
          if (!live || (!now && Date.now() - lastDrawn < REDRAW_MS)) return;
          lastDrawn = Date.now();
          status.update(text);
        };
        let current: ScanTable | undefined;
        // SQLite in the data folder: a full disk fails every write, the scan's own status included
        const diskWatch = runtime.config.databaseUrl ? null : new DiskFullWatch(runtime.config.dataDir);
        let diskFull = false;
        for (;;) {
          current = await getScan(db, scanId);
          if (current && current.status !== 'running') break;
          if (current && diskWatch?.full()) {
            const reason = diskFullMessage(runtime.config.dataDir);
            await failScan(db, scanId, reason).catch(() => undefined); // may fail too: the reason is printed anyway
            current = { ...current, status: 'failed', last_error: reason, finished_at: Date.now() };
            diskFull = true;
            break;
          }
          if (!current && jobId) {
            // the discovery job failed before it could open the scan (the root vanished, say)
            const job = await runtime.broker.getJob(jobId);
            if (job?.state === 'failed') throw new Error(`the scan could not start: ${job.error ?? 'no reason given'}`);
          }
          if (current && live) draw(progressLine(current));
          else if (current && !opts.json && Date.now() - lastPrinted > 2_000) {
            lastPrinted = Date.now();
            process.stderr.write(`${progressLine(current)}\n`);
          }
          await pause.wait();
        }
        draw(progressLine(current), true);
        // local art of the new albums is linked by the covers jobs the last batches queued
        while (worker && current.status === 'completed' && (await runtime.broker.pending('covers')) > 0) {
          draw(`${progressLine(current)}  linking local art…`);
          await pause.wait();
        }
        draw(progressLine(current), true);
        status.done();
        await pause.close();
        // nothing of the later stages runs here, so nothing is left to wait for
        // on a full disk the worker cannot even record its own exit: the summary is what matters
        await worker?.close(runtime.config.shutdownGraceMs).catch((err: unknown) => {
          if (!diskFull) throw err;
        });
        const summary = summarize(current);
        if (opts.json) printJson(summary);
        else printSummary(summary, await followUpLine(runtime));
        if (summary.status !== 'completed') throw new Error(`the scan ${summary.status === 'cancelled' ? 'was cancelled' : `failed: ${summary.lastError ?? 'no reason given'}`}`);
        if (summary.discovered === 0) throw new Error(`no audio files in ${root}`);
      } finally {
        dropPrefetchedWalk();
        await runtime.close();
      }
    });

  scan
    .command('cancel <scanId>')
    .description('cancels a running scan (what it already wrote stays)')
    .option('--json', 'print JSON')
    .action(async (scanId: string, opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ database }) => {
        if (!(await requestCancel(database.db, scanId))) throw new Error(`no running scan ${scanId}`);
        if (opts.json) printJson({ scanId, status: 'cancelled' });
        else printLine(`scan ${scanId} cancelled`);
      });
    });
  return scan;
}

function printSummary(s: ScanSummary, followUp: string | null): void {
  printLine(`scan ${s.scanId} of ${s.root}: ${s.status} in ${s.seconds} s (${s.filesPerSecond} files/s)`);
  printLine(`  ${s.discovered} files found: ${s.unchanged} unchanged, ${s.extracted} read (${s.inserted} new, ${s.updated} updated), ${s.failed} failed`);
  printLine(`  ${s.moved} moved, ${s.removed} missing (kept, hidden: soniquebay library missing)`);
  const skipped = Object.entries(s.skipped).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (skipped.length > 0) printLine(`  not audio: ${skipped.map(([ext, n]) => `${n} ${ext || '(no extension)'}`).join(', ')} skipped`);
  if (s.lastError) printLine(`  last error: ${s.lastError}`);
  if (s.failed > 0) printLine('  files that could not be read: soniquebay library errors');
  if (followUp) printLine(`  ${followUp}`);
}
