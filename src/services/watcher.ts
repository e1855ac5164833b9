// The folder watcher (`--watch`): when files change under a library root, a scan of that root is
// queued once the changes have settled (DEBOUNCE_MS of quiet, at most MAX_WAIT_MS after the first
// change). The scan's folder fingerprints make it read only the folders that changed (the others
// are only stat'ed). Roots on network file systems (NFS, SMB/CIFS, FUSE mounts such as sshfs or
// rclone), where change notifications do not arrive, and roots the kernel cannot watch (too many
// folders for fs.inotify.max_user_watches) are scanned every `pollMinutes` instead. A root that is
// absent, unmounted or emptied is not scanned (root_check.ts): the watcher waits for it to come back
// (checking every `waitSeconds`), then watches it anew and scans it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Runtime } from '../runtime.js';
import { checkRoot } from '../workers/scan/root_check.js';
import { beginScan } from '../workers/scan/sessions.js';

export const DEBOUNCE_MS = 2_000;
export const MAX_WAIT_MS = 30_000;

/** statfs magic numbers of file systems whose changes inotify does not see */
const NETWORK_FS: Record<number, string> = {
  0x6969: 'nfs',
  0x517b: 'smb',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x65735546: 'fuse',
  0x01021997: '9p',
  0x73757245: 'coda',
  0x564c: 'ncp',
};

export function networkFileSystem(type: number): string | null {
  return NETWORK_FS[type >>> 0] ?? null;
}

export interface WatcherOptions {
  debounceMs?: number;
  maxWaitMs?: number;
  /** how often roots that cannot be watched are scanned */
  pollMinutes?: number;
  /** how often a root that is absent or not mounted is checked for its return */
  waitSeconds?: number;
  /** for tests: the file system type of a root */
  statfsType?: (root: string) => number;
}

interface RootState {
  root: string;
  mode: 'watch' | 'poll' | 'wait';
  reason?: string;
  watcher?: FSWatcher;
  timer?: NodeJS.Timeout;
  firstChange?: number;
  poll?: NodeJS.Timeout;
}

export class LibraryWatcher {
  private readonly roots = new Map<string, RootState>();
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;
  private readonly waitMs: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly options: WatcherOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? DEBOUNCE_MS;
    this.maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
    this.pollMs = (options.pollMinutes ?? 60) * 60_000;
    this.waitMs = (options.waitSeconds ?? 10) * 1_000;
  }

  /** how each root is followed: watched, polled, or waited for (with the reason) */
  status(): { root: string; mode: 'watch' | 'poll' | 'wait'; reason?: string }[] {
    return [...this.roots.values()].map(({ root, mode, reason }) => ({ root, mode, ...(reason ? { reason } : {}) }));
  }

  async start(): Promise<void> {
    const known = await this.runtime.database.db.selectFrom('library_roots').select('path').execute();
    const roots = [...new Set([...this.runtime.config.libraryRoots, ...known.map((r) => r.path)].map((r) => path.resolve(r)))];
    for (const root of roots) await this.follow(root);
  }

  async close(): Promise<void> {
    for (const state of this.roots.values()) {
      clearTimeout(state.timer);
      clearInterval(state.poll);
      await state.watcher?.close();
    }
    this.roots.clear();
  }

  private async follow(root: string): Promise<void> {
    const log = this.runtime.logger;
    const check = await checkRoot(this.runtime.database.db, root);
    if (!check.ok) return this.waitFor(root, check.reason);
    let type: number;
    try {
      type = this.options.statfsType ? this.options.statfsType(root) : Number(fs.statfsSync(root).type);
    } catch (err) {
      return this.waitFor(root, `library root not readable: ${(err as Error).message}`);
    }
    const network = networkFileSystem(type);
    if (network) return this.poll(root, `${network} file system: change notifications do not arrive`);
    const state: RootState = { root, mode: 'watch' };
    this.roots.set(root, state);
    const watcher = watch(root, { ignoreInitial: true, followSymlinks: false, ignored: (p) => path.basename(p).startsWith('.') });
    state.watcher = watcher;
    watcher.on('all', () => this.changed(state));
    await new Promise<void>((resolve) => {
      watcher.once('ready', () => resolve());
      watcher.on('error', (err) => {
        resolve(); // chokidar never gets ready once closed
        if (this.roots.get(root) !== state) return; // handled already
        // ENOSPC: the kernel's watch limit (fs.inotify.max_user_watches) is reached
        log.warn({ root, err: (err as Error).message }, 'watching failed: the root is scanned periodically instead');
        void watcher.close();
        this.roots.delete(root);
        this.poll(root, `watching failed: ${(err as Error).message}`);
      });
    });
    if (this.roots.get(root) !== state) return;
    log.info({ root }, 'watching library root');
  }

  private poll(root: string, reason: string): void {
    const state: RootState = { root, mode: 'poll', reason };
    state.poll = setInterval(() => void this.scan(state), this.pollMs);
    state.poll.unref();
    this.roots.set(root, state);
    this.runtime.logger.info({ root, reason, everyMinutes: this.pollMs / 60_000 }, 'library root scanned periodically');
  }

  /** An absent or unmounted root: checked every `waitSeconds`; once back it is watched anew and scanned. */
  private waitFor(root: string, reason: string): void {
    const state: RootState = { root, mode: 'wait', reason };
    this.roots.set(root, state);
    this.runtime.logger.warn({ root, reason }, 'library root unavailable: not scanned, waiting for it to come back');
    state.poll = setInterval(() => {
      void checkRoot(this.runtime.database.db, root).then(
        async (check) => {
          if (!check.ok || this.roots.get(root) !== state) return;
          clearInterval(state.poll);
          this.roots.delete(root);
          this.runtime.logger.info({ root }, 'library root is back');
          await this.follow(root);
          const next = this.roots.get(root);
          if (next && next.mode !== 'wait') await this.scan(next);
        },
        () => undefined,
      );
    }, this.waitMs);
    state.poll.unref();
  }

  private changed(state: RootState): void {
    const now = Date.now();
    state.firstChange ??= now;
    clearTimeout(state.timer);
    const wait = Math.max(0, Math.min(this.debounceMs, state.firstChange + this.maxWaitMs - now));
    state.timer = setTimeout(() => void this.scan(state), wait);
    state.timer.unref();
  }

  /** queues a scan of the root, or waits for the running one to end (changes during it are caught next) */
  private async scan(state: RootState): Promise<void> {
    const { db } = this.runtime.database;
    try {
      if (this.roots.get(state.root) !== state) return; // closed, or replaced while waiting
      const check = await checkRoot(db, state.root);
      if (!check.ok) {
        // its inotify watches died with the mount: watched anew when it is back
        clearTimeout(state.timer);
        clearInterval(state.poll);
        await state.watcher?.close();
        this.roots.delete(state.root);
        return this.waitFor(state.root, check.reason);
      }
      const jobId = (payload: { scanId: string }) => `watch-${createHash('sha1').update(state.root).digest('hex').slice(0, 12)}-${payload.scanId}`;
      const { scanId, started } = await beginScan(db, state.root, false, (payload) => this.runtime.broker.enqueue('scan.discovery', payload, { jobId: jobId(payload) }));
      if (!started) {
        // one is running: changes made during it are caught by the next one
        state.timer = setTimeout(() => void this.scan(state), this.debounceMs);
        state.timer.unref();
        return;
      }
      state.firstChange = undefined;
      this.runtime.logger.info({ root: state.root, scanId, mode: state.mode }, 'library changed: scan queued');
    } catch (err) {
      this.runtime.logger.warn({ root: state.root, err: (err as Error).message }, 'could not queue a scan; trying again');
      state.timer = setTimeout(() => void this.scan(state), this.debounceMs);
      state.timer.unref();
    }
  }
}
