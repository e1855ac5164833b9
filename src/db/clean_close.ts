// The start-up integrity check (PRAGMA quick_check) reads every page of the library database:
// 0.17 s for a 10,000-track library, seconds for a million tracks, paid by every command, an
// unchanged rescan included. It is skipped when the file is exactly as this program left it at a
// clean close (same inode, size, change and modification times, no write-ahead log beside it) and
// the last real check is under a week old. Anything else (a crash, another process writing, a
// restored or edited file, a week gone by) checks it again.
import fs from 'node:fs';

const RECHECK_AFTER_MS = 7 * 24 * 3600 * 1000;

interface CleanClose {
  identity: string;
  /** when quick_check last passed on this file (epoch ms) */
  checkedAt: number;
}

export function cleanCloseFile(dbFile: string): string {
  return `${dbFile}-clean`;
}

function identity(dbFile: string): string | null {
  try {
    const s = fs.statSync(dbFile, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return null;
  }
}

/**
 * When quick_check last passed, if the file is as a clean close left it and that check is recent;
 * otherwise null (check it). Called before the file is opened; the record is removed (the file is
 * about to change), so a crash from here on is never taken for a clean close.
 */
export function takeCleanClose(dbFile: string, now = Date.now()): number | null {
  const marker = cleanCloseFile(dbFile);
  let record: CleanClose | null = null;
  try {
    record = JSON.parse(fs.readFileSync(marker, 'utf8')) as CleanClose;
  } catch {
    return null;
  }
  fs.rmSync(marker, { force: true });
  if (fs.existsSync(`${dbFile}-wal`)) return null;
  if (typeof record?.checkedAt !== 'number' || now - record.checkedAt > RECHECK_AFTER_MS || now < record.checkedAt) return null;
  return record.identity === identity(dbFile) ? record.checkedAt : null;
}

/** After the connection is closed: records the file as closed cleanly, unless another process still has it open (its log is there). */
export function recordCleanClose(dbFile: string, checkedAt: number): void {
  if (fs.existsSync(`${dbFile}-wal`)) return;
  const id = identity(dbFile);
  if (!id) return;
  const marker = cleanCloseFile(dbFile);
  try {
    fs.writeFileSync(`${marker}.tmp`, JSON.stringify({ identity: id, checkedAt } satisfies CleanClose));
    fs.renameSync(`${marker}.tmp`, marker);
  } catch {
    // no record (a full disk, a read-only folder): the next start checks the file, as without it
  }
}
