// SoniqueBay's UI follows a scan by the Celery id `POST /api/scan` returned (contract §2): every
// stage's progress must come under that id, and the end (percent 100) only once the whole scan is
// written — and mirrored into SoniqueBay's database when the sink runs. The scan's stages run as
// many jobs, possibly in other processes, so this follows the scan where it is recorded, our
// database, and publishes on the `progress` channel of Celery's Redis each time its counts move.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Db } from '../../db/types.js';
import { LIBRARY_UPDATE, scanProgressEvent, type SoniqueBayEvent } from '../../services/soniquebay/events.js';
import { sinkSettings } from '../../services/soniquebay/settings.js';
import { scanClosedAt } from '../../services/soniquebay/sink.js';
import { errorMessage } from '../errors.js';

const POLL_MS = 250;
/** a scan nobody started within this long (the discovery job never ran) is no longer followed */
const FORGET_UNSTARTED_MS = 6 * 3_600_000;

interface Followed {
  /** the Celery id SoniqueBay knows the scan by */
  taskId: string;
  /** our scan id: the Celery id, unless the discovery joined a scan already running */
  scanId: string;
  since: number;
  last?: string;
  percent: number;
  extracted: number;
}

export class ScanProgressPublisher {
  private readonly followed = new Map<string, Followed>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly redis: Redis,
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
  }

  /** a scan.discovery call was accepted: its scan id is its Celery id */
  follow(taskId: string): void {
    if (!this.followed.has(taskId)) this.followed.set(taskId, { taskId, scanId: taskId, since: Date.now(), percent: 0, extracted: 0 });
  }

  /** the discovery answered with another scan id (it joined a scan of the same folder already running) */
  joined(taskId: string, scanId: string): void {
    const f = this.followed.get(taskId);
    if (f) f.scanId = scanId;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.followed.size === 0) return;
    this.busy = true;
    try {
      const sink = sinkSettings() !== null;
      const events: { channel: 'progress' | 'notifications'; event: SoniqueBayEvent }[] = [];
      for (const f of [...this.followed.values()]) {
        const scan = await this.db.selectFrom('scans').selectAll().where('id', '=', f.scanId).executeTakeFirst();
        if (!scan) {
          if (Date.now() - f.since > FORGET_UNSTARTED_MS) this.followed.delete(f.taskId);
          continue;
        }
        // with the sink, the end is when SoniqueBay's database holds the scan (its scan_sessions row closed)
        const ended = scan.status !== 'running';
        const final = scan.status === 'completed' && (!sink || (await scanClosedAt(this.db, scan.id)) !== null);
        if (ended && scan.status === 'completed' && !final) continue;
        const event = scanProgressEvent(f.taskId, scan, final, f.percent);
        const key = JSON.stringify(event);
        if (key !== f.last) {
          f.last = key;
          if (typeof event.percent === 'number') f.percent = event.percent;
          events.push({ channel: 'progress', event });
        }
        // without the sink, SoniqueBay's library is ours only through our API: tell the UI when it grew
        if (!sink && scan.extracted !== f.extracted) {
          f.extracted = scan.extracted;
          events.push({ channel: 'notifications', event: LIBRARY_UPDATE });
        }
        if (ended) this.followed.delete(f.taskId);
      }
      if (events.length > 0) {
        const multi = this.redis.multi();
        for (const { channel, event } of events) multi.publish(channel, JSON.stringify(event));
        await multi.exec();
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not publish scan progress to SoniqueBay');
    } finally {
      this.busy = false;
    }
  }
}

/** `notifications` events of a retrain SoniqueBay asked for (trigger_vectorizer_retrain), as its worker sent them */
export function retrainEvent(stage: 'starting' | 'completed' | 'failed', options: Record<string, unknown>, extra: { newVersion?: unknown; error?: string } = {}): SoniqueBayEvent {
  return {
    type: 'vectorization_progress',
    stage: `retrain_${stage}`,
    status: stage === 'starting' ? 'in_progress' : stage === 'completed' ? 'success' : 'error',
    trigger_reason: options.trigger_reason ?? null,
    priority: options.priority ?? null,
    message: stage === 'starting' ? 'Retrain du vectorizer démarré' : stage === 'completed' ? 'Retrain du vectorizer terminé' : `Échec du retrain: ${extra.error ?? ''}`,
    ...(stage === 'completed' ? { new_version: extra.newVersion ?? null } : {}),
    ...(stage === 'failed' ? { error: extra.error ?? null } : {}),
  };
}
