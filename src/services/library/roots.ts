// The one "is this path inside a library root" check. Every stage that opens a library file (scan
// extraction, covers, artist images, analysis) resolves the file at open time, symbolic links
// included, and refuses it unless it lies inside a root: a link inside the root re-pointed outside
// after the scan must not let a later stage read, store or serve the outside file. The API's
// folder checks (api/paths.ts) and the walk use the same test.
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../db/types.js';

export class OutsideRootsError extends Error {
  constructor(file: string) {
    super(`${file} resolves to a place outside the library roots (a symbolic link pointing out?): not opened`);
    this.name = 'OutsideRootsError';
  }
}

/** True when `candidate` is `root` or lies inside it (both absolute and already resolved). */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** The library roots with their own links resolved (roots that are absent now are left out). */
export async function realRoots(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('library_roots').select('path').execute();
  const out: string[] = [];
  for (const { path: root } of rows) {
    try {
      out.push(await fs.promises.realpath(root));
    } catch {
      // not there now: nothing inside it can be opened either
    }
  }
  return out;
}

/**
 * Resolves a library file now (links followed) and returns its real path if it lies inside one of
 * `roots` (real paths, from realRoots), else throws OutsideRootsError. A file that is gone throws ENOENT.
 */
export async function resolveInsideRoots(file: string, roots: readonly string[]): Promise<string> {
  const real = await fs.promises.realpath(file);
  if (!roots.some((root) => isInside(root, real))) throw new OutsideRootsError(file);
  return real;
}

/** resolveInsideRoots against the library's roots */
export async function openableLibraryFile(db: Db, file: string): Promise<string> {
  return resolveInsideRoots(file, await realRoots(db));
}
