// Paths that come with a request (a folder to scan) are resolved (symlinks followed, `..` gone) and
// must lie inside a configured library root or a root already in the library; anything else is
// refused before the file system is touched any further.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../runtime.js';
import { isInside } from '../services/library/roots.js';
import { badRequest, ApiError } from './errors.js';

const inside = (child: string, parent: string): boolean => isInside(parent, child);

function real(p: string): string | null {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return null;
  }
}

/**
 * The library root (as configured or stored, so that no second root appears for the same files)
 * that contains the requested folder, or an ApiError.
 */
export async function confinedFolder(runtime: Runtime, requested: string): Promise<string> {
  if (typeof requested !== 'string' || requested.length === 0 || requested.length > 4_096 || requested.includes('\0')) throw badRequest('root must be a folder path');
  if (!path.isAbsolute(requested)) throw badRequest('root must be an absolute path');
  const known = (await runtime.database.db.selectFrom('library_roots').select('path').execute()).map((r) => r.path);
  const written = [...new Set([...runtime.config.libraryRoots, ...known].map((r) => path.resolve(r)))];
  const allowed = written.map((r) => real(r)).filter((r): r is string => r !== null);
  if (allowed.length === 0) throw new ApiError(403, 'no_roots', 'no library roots yet: add your music folder first (POST /roots, the dashboard, `soniquebay scan <folder>` or SONIQUEBAY_LIBRARY_ROOTS); the API scans only inside them');
  // the lexical form first: a path naming somewhere else is refused without looking at it
  const lexical = path.resolve(requested);
  const configured = [...runtime.config.libraryRoots, ...known].map((r) => path.resolve(r));
  if (!configured.some((root) => inside(lexical, root)) && !allowed.some((root) => inside(lexical, root))) throw new ApiError(403, 'outside_roots', 'the folder is outside the library roots');
  const resolved = real(lexical);
  if (!resolved) throw badRequest('the folder does not exist');
  if (!allowed.some((root) => inside(resolved, root))) throw new ApiError(403, 'outside_roots', 'the folder is outside the library roots');
  if (!fs.statSync(resolved).isDirectory()) throw badRequest('root must be a folder');
  // the outermost root that holds it, as written
  const holder = written.filter((root) => {
    const r = real(root);
    return r !== null && inside(resolved, r);
  }).sort((a, b) => a.length - b.length)[0];
  return holder!;
}
