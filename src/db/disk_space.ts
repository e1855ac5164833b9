// Disk full: SQLite answers SQLITE_FULL to every write (job claims, heartbeats, the scan's own
// status), so a scan cannot even record that it failed. Whoever follows a scan watches the free
// space of the data folder instead and stops with a clear reason.
import fs from 'node:fs';

/** below this much free space, the data folder counts as full (SQLite needs room for its journal) */
export const DISK_FULL_BYTES = 512 * 1024;

export function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

export function diskFullMessage(dir: string): string {
  return `disk full: the data folder ${dir} has less than ${DISK_FULL_BYTES / 1024} KiB free; free some space and scan again (nothing already written is lost)`;
}

/** Tells, once a folder has stayed full for `forMs`, that it is full. */
export class DiskFullWatch {
  private since: number | null = null;
  constructor(
    private readonly dir: string,
    private readonly forMs = 3_000,
  ) {}

  full(now = Date.now()): boolean {
    const free = freeBytes(this.dir);
    if (free === null || free >= DISK_FULL_BYTES) {
      this.since = null;
      return false;
    }
    this.since ??= now;
    return now - this.since >= this.forMs;
  }
}
