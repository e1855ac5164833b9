import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { ScanTable } from '../db/types.js';
import { openRuntime } from '../runtime.js';
import { DiskFullWatch, diskFullMessage } from '../db/disk_space.js';
import { beginScan, failScan, getScan, requestCancel } from '../workers/scan/sessions.js';
import { configOf, withRuntime } from './context.js';
import { printJson, printLine } from './output.js';

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
    lastError: scan.last_error,
  };
}

function progressLine(scan: ScanTable): string {
  const elapsed = (Date.now() - scan.started_at) / 1000;
  const done = scan.extracted + scan.failed;
  const handled = scan.unchanged + done;
  const rate = elapsed > 0 ? handled / elapsed : 0;
  if (!scan.walk_done) {
    return `discovering…  ${scan.queued} to read, ${done} read, ${scan.failed} failed  ${Math.round(rate)} files/s`;
  }
  const total = Math.max(scan.queued, 1);
  const ratio = Math.min(1, done / total);
  const width = 30;
  const bar = '#'.repeat(Math.round(ratio * width)).padEnd(width, '-');
  const perSecond = elapsed > 0 ? done / elapsed : 0;
  const eta = perSecond > 0 ? Math.round((scan.queued - done) / perSecond) : 0;
  return `[${bar}] ${Math.round(ratio * 100)}%  ${done}/${scan.queued} read  ${scan.unchanged} unchanged  ${scan.failed} failed  ${Math.round(rate)} files/s  ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, '0')}`;
}

export function scanCommand(): Command {
  const scan = new Command('scan')
    .description('scans a music folder into the library (adds it as a library root), with live progress')
    .argument('<dir>', 'the music folder')
    .option('--full', 're-read every file, changed or not')
    .option('--no-worker', 'only queue and follow the scan: workers elsewhere do the work')
    .option('--json', 'print the summary as JSON')
    .action(async (dir: string, opts: { full?: boolean; worker: boolean; json?: boolean }, command: Command) => {
      const root = path.resolve(dir);
      if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`${root} is not a folder`);
      const config = configOf(command);
      const runtime = await openRuntime(process.env.SONIQUEBAY_LOG_LEVEL ? config : { ...config, logLevel: 'warn' });
      const { db } = runtime.database;
      try {
        const worker = opts.worker ? await runtime.broker.startWorker() : undefined;
        const { scanId, started } = await beginScan(db, root, opts.full === true, (payload) => runtime.broker.enqueue('scan.discovery', payload, { jobId: `scan-${payload.scanId}` }));
        if (!started) process.stderr.write(`a scan of ${root} is already running (${scanId}): following it\n`);
        const interactive = process.stderr.isTTY === true && !opts.json;
        let lastPrinted = 0;
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
          if (current && interactive) process.stderr.write(`\r${progressLine(current)}\u001b[K`);
          else if (current && !opts.json && Date.now() - lastPrinted > 2_000) {
            lastPrinted = Date.now();
            process.stderr.write(`${progressLine(current)}\n`);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        if (interactive) process.stderr.write('\n');
        // on a full disk the worker cannot even record its own exit: the summary is what matters
        await worker?.close(runtime.config.shutdownGraceMs).catch((err: unknown) => {
          if (!diskFull) throw err;
        });
        const summary = summarize(current);
        if (opts.json) printJson(summary);
        else printSummary(summary);
        if (summary.status !== 'completed') process.exitCode = 1;
      } finally {
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

function printSummary(s: ScanSummary): void {
  printLine(`scan ${s.scanId} of ${s.root}: ${s.status} in ${s.seconds} s (${s.filesPerSecond} files/s)`);
  printLine(`  ${s.discovered} files found: ${s.unchanged} unchanged, ${s.extracted} read (${s.inserted} new, ${s.updated} updated), ${s.failed} failed`);
  printLine(`  ${s.moved} moved, ${s.removed} missing (kept, hidden: soniquebay library missing)`);
  if (s.lastError) printLine(`  last error: ${s.lastError}`);
  if (s.failed > 0) printLine('  files that could not be read: soniquebay library errors');
  printLine('  covers and the later stages of new tracks continue in `soniquebay run` (or `soniquebay covers fetch`)');
}
