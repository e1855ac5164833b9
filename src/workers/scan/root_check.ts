// Is a library root really there? An unmounted disk or NAS share looks exactly like a library whose
// files were all deleted: the mount point is an empty folder (on another device), or the path is
// gone. Such a root is not scanned at all, so nothing is marked missing (docs/reliability.md).
import fs from 'node:fs/promises';
import type { Db } from '../../db/types.js';

export type RootCheck = { ok: true; realRoot: string; device: string } | { ok: false; reason: string };

/** how many known files are looked for when the device changed (the library copied to a new disk) */
const SAMPLE = 20;

export async function checkRoot(db: Db, rootPath: string): Promise<RootCheck> {
  let realRoot: string;
  let device: string;
  try {
    realRoot = await fs.realpath(rootPath);
    const stat = await fs.stat(realRoot);
    if (!stat.isDirectory()) return { ok: false, reason: `library root ${rootPath} is not a folder: nothing was scanned or marked missing` };
    device = String(stat.dev);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { ok: false, reason: `library root ${rootPath} is absent (${code}): not mounted, renamed or deleted? Nothing was scanned or marked missing` };
  }
  const root = await db.selectFrom('library_roots').select(['id', 'device']).where('path', '=', rootPath).executeTakeFirst();
  if (!root) return { ok: true, realRoot, device };
  const known = await db.selectFrom('tracks').select('path').where('root_id', '=', root.id).where('missing_since', 'is', null).limit(SAMPLE).execute();
  if (known.length === 0) return { ok: true, realRoot, device };
  if (root.device !== null && root.device !== device && !(await anyExists(known.map((t) => t.path)))) {
    return { ok: false, reason: `library root ${rootPath} is not mounted (it is on another device than when it was scanned, and none of its files is there): nothing was scanned or marked missing` };
  }
  if (await isEmpty(realRoot)) {
    return { ok: false, reason: `library root ${rootPath} is empty while the library holds tracks there: not mounted? Nothing was scanned or marked missing` };
  }
  return { ok: true, realRoot, device };
}

/** Records the device the root was found on (after a check passed). */
export async function recordDevice(db: Db, rootId: number, device: string): Promise<void> {
  await db.updateTable('library_roots').set({ device }).where('id', '=', rootId).where((eb) => eb.or([eb('device', 'is', null), eb('device', '!=', device)])).execute();
}

async function anyExists(paths: string[]): Promise<boolean> {
  for (const p of paths) {
    try {
      await fs.stat(p);
      return true;
    } catch {
      // not this one
    }
  }
  return false;
}

async function isEmpty(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).every((name) => name.startsWith('.'));
  } catch {
    return false; // unlistable: reported by the walk as a folder error, which keeps what the library knew
  }
}
