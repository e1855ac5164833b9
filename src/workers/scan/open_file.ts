// How the scan opens a library file: once, checked inside the library roots on the open file, then
// read by position until it is parsed (a small file is read whole at once). Two ways to wait:
// `blocking` for a parse thread, which has nothing else to do while it waits (one syscall per step
// instead of a promise and a round trip through Node's I/O thread pool: 10,000 small files read in
// 0.17 s of CPU instead of 1.5 s; a read that hangs holds the thread until the parse pool's stall
// timer replaces it), `async` for a thread with other work (the worker's main thread).
import fs from 'node:fs';
import { openInsideRoots, openInsideRootsSync } from '../../services/library/roots.js';

export type ReadMode = 'async' | 'blocking';

/** A read at a position of the open file; resolves to the number of bytes read. */
export type PositionalRead = (buffer: NodeJS.ArrayBufferView, offset: number, length: number, position: number) => Promise<number>;

/** What block_reader.ts parses through. */
export interface OpenFile {
  path: string;
  size: number;
  read: PositionalRead;
}

export interface OpenedFile extends OpenFile {
  mtimeMs: number;
  regular: boolean;
  /** the whole file, when regular and at most `wholeMax` bytes */
  whole: Buffer | null;
  close(): Promise<void>;
}

// non-blocking: a named pipe called "x.mp3" must not hold the read forever (regular files ignore
// it); never becoming a controlling terminal, whatever the name points at
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/**
 * Opens a library file (inside `roots`, real paths from realRoots, when given) and reads it whole
 * when it is regular and at most `wholeMax` bytes. The caller closes it.
 */
export async function openLibraryFile(file: string, roots: readonly string[] | undefined, mode: ReadMode, wholeMax: number): Promise<OpenedFile> {
  const opened = mode === 'blocking' ? openBlocking(file, roots) : await openAsync(file, roots);
  try {
    if (opened.regular && opened.size > 0 && opened.size <= wholeMax) {
      const whole = Buffer.allocUnsafe(opened.size);
      opened.whole = whole.subarray(0, await opened.read(whole, 0, opened.size, 0));
    }
    return opened;
  } catch (err) {
    await opened.close();
    throw err;
  }
}

function openBlocking(file: string, roots: readonly string[] | undefined): OpenedFile {
  const fd = roots ? openInsideRootsSync(file, roots, OPEN_FLAGS) : fs.openSync(file, OPEN_FLAGS);
  try {
    return described(file, fs.fstatSync(fd), async (buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position), async () => fs.closeSync(fd));
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

async function openAsync(file: string, roots: readonly string[] | undefined): Promise<OpenedFile> {
  const handle = roots ? await openInsideRoots(file, roots, OPEN_FLAGS) : await fs.promises.open(file, OPEN_FLAGS);
  try {
    return described(file, await handle.stat(), async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead, () => handle.close());
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function described(file: string, stat: fs.Stats, read: PositionalRead, close: () => Promise<void>): OpenedFile {
  return { path: file, size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs), regular: stat.isFile(), whole: null, read, close };
}
