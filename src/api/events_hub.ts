// Live events for GET /events: job progress/completion/failure from the broker (both runtimes
// publish them), and a snapshot of every running scan twice a second while it changes (counts,
// percent, files/s), all tagged with the scan id when there is one. Events get increasing ids and
// the last RING of them are kept, so a client reconnecting with Last-Event-ID gets what it missed.
import type { ScanTable } from '../db/types.js';
import type { Runtime } from '../runtime.js';
import type { ExtractResult } from '../workers/scan/extract_batch.js';

export interface HubEvent {
  id: number;
  type: 'job' | 'scan' | 'library';
  scanId?: string;
  data: Record<string, unknown>;
}

const RING = 2_000;
const SCAN_POLL_MS = 250;

export type Listener = (event: HubEvent) => void;

/** what a completed job wrote of the library: a batch, by its own job or by the extract job that read it */
function writtenBatch(task: string, result: unknown): unknown {
  if (task === 'batch.process_entities') return result;
  if (task === 'metadata.extract_batch') return (result as ExtractResult | null)?.written;
  return undefined;
}

export class EventHub {
  private nextId = 1;
  private readonly ring: HubEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private unsubscribe: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly lastScan = new Map<string, string>();

  constructor(private readonly runtime: Runtime) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.runtime.broker.subscribe((event) => {
      const scanId = event.type === 'progress' ? event.scanId : undefined;
      const data: Record<string, unknown> = { event: event.type, job: event.job.id, task: event.job.name };
      if (event.type === 'progress') data.progress = event.progress;
      if (event.type === 'failed') Object.assign(data, { error: event.error, willRetry: event.willRetry });
      this.emit('job', data, scanId);
      // a batch written: the library changed
      const written = event.type === 'completed' ? writtenBatch(event.job.name, event.result) : undefined;
      if (written) this.emit('library', { result: written });
    });
    this.timer = setInterval(() => void this.pollScans(), SCAN_POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unsubscribe?.();
    this.listeners.clear();
  }

  /** events after `lastId` still in the ring; null when some were already dropped */
  since(lastId: number): HubEvent[] | null {
    // an id this process never gave: the client last talked to another process (or before a restart)
    if (lastId >= this.nextId) return null;
    const first = this.ring[0];
    if (first && lastId < first.id - 1) return null;
    return this.ring.filter((e) => e.id > lastId);
  }

  /** how many events this hub has emitted */
  emitted(): number {
    return this.nextId - 1;
  }

  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(type: HubEvent['type'], data: Record<string, unknown>, scanId?: string): HubEvent {
    const event: HubEvent = { id: this.nextId++, type, ...(scanId ? { scanId } : {}), data };
    this.ring.push(event);
    if (this.ring.length > RING) this.ring.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  private async pollScans(): Promise<void> {
    try {
      const db = this.runtime.database.db;
      const since = Date.now() - 5 * SCAN_POLL_MS;
      const scans = await db.selectFrom('scans').selectAll().where((eb) => eb.or([eb('status', '=', 'running'), eb('updated_at', '>=', since)])).execute();
      for (const scan of scans) {
        const snapshot = scanSnapshot(scan);
        const key = JSON.stringify(snapshot);
        if (this.lastScan.get(scan.id) === key) continue;
        this.lastScan.set(scan.id, key);
        this.emit('scan', snapshot, scan.id);
      }
      if (this.lastScan.size > 1_000) this.lastScan.clear();
    } catch {
      // the database is busy or closing: the next poll tries again
    }
  }
}

/** what a progress bar needs of a scan */
export function scanSnapshot(scan: ScanTable): Record<string, unknown> {
  // as the CLI's progress bar: files to read vs read (or failed), once the walk is over
  const done = scan.extracted + scan.failed;
  const percent = scan.status === 'completed' ? 100 : scan.walk_done ? Math.min(99, Math.floor((100 * done) / Math.max(1, scan.queued))) : 0;
  const seconds = Math.max(0.001, ((scan.finished_at ?? Date.now()) - scan.started_at) / 1000);
  return {
    scanId: scan.id,
    status: scan.status,
    percent,
    discovered: scan.discovered,
    unchanged: scan.unchanged,
    extracted: scan.extracted,
    inserted: scan.inserted,
    updated: scan.updated,
    failed: scan.failed,
    filesPerSecond: Math.round((scan.unchanged + done) / seconds),
  };
}
