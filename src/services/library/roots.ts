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

/**
 * Where an open file really is, as the kernel resolved it when it was opened (Linux: its
 * /proc/self/fd link, one syscall; elsewhere realpath). What is read through that handle has no
 * window between the check and the read (the scan parses through that handle only: open_file.ts).
 */
async function realPathOfOpen(handle: fs.promises.FileHandle, file: string): Promise<string> {
  try {
    return await fs.promises.readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return fs.promises.realpath(file);
  }
}

/** realPathOfOpen for a file opened with fs.openSync (the parse threads' blocking reads) */
function realPathOfOpenSync(fd: number, file: string): string {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return fs.realpathSync(file);
  }
}

/**
 * Non-blocking (a named pipe called cover.jpg must not hold a thread for ever) and never becoming a
 * controlling terminal: opening is done before the check, so it must be harmless for any target.
 */
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/**
 * Opens a library file for reading and checks, on the open file, that it lies inside one of `roots`
 * (real paths, from realRoots); else closes it and throws OutsideRootsError. A file that is gone throws ENOENT.
 */
export async function openInsideRoots(file: string, roots: readonly string[], flags: number = READ_FLAGS): Promise<fs.promises.FileHandle> {
  const handle = await fs.promises.open(file, flags);
  try {
    const real = await realPathOfOpen(handle, file);
    if (!roots.some((root) => isInside(root, real))) throw new OutsideRootsError(file);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * openInsideRoots with blocking calls, for a thread that does nothing but read files (a parse
 * thread): one syscall each instead of a thread-pool round trip, ~9x less CPU for a small file.
 * Returns the file descriptor.
 */
export function openInsideRootsSync(file: string, roots: readonly string[], flags: number = READ_FLAGS): number {
  const fd = fs.openSync(file, flags);
  try {
    if (!roots.some((root) => isInside(root, realPathOfOpenSync(fd, file)))) throw new OutsideRootsError(file);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** The bytes of a library file (a folder image), read only if the open file lies inside `roots` (openInsideRoots). */
export async function readFileInsideRoots(file: string, roots: readonly string[]): Promise<Buffer> {
  const handle = await openInsideRoots(file, roots);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${file} is not a regular file`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** resolveInsideRoots against the library's roots */
export async function openableLibraryFile(db: Db, file: string): Promise<string> {
  return resolveInsideRoots(file, await realRoots(db));
}
