// Entry point of a tag-parsing thread (see parse_pool.ts): reads the files of one request with the
// scan's own extractor, with blocking reads (this thread has nothing else to do while it waits),
// answers each file as soon as it is read, then says the request is done.
import { parentPort } from 'node:worker_threads';
import { ImageStore } from '../../services/images/store.js';
import type { ExtractedTrack, FileError } from './extracted.js';
import { extractFiles, readInsideRoots, type PictureSink } from './metadata_extractor.js';
import type { ParseReply, ParseRequest } from './parse_pool.js';

const port = parentPort;
if (!port) throw new Error('parse_thread runs as a worker thread of the parse pool');

/** pictures this thread stored or found stored lately: an album's tracks carry the same one */
const STORED_KEPT = 10_000;
const stored = new Set<string>();
let store: ImageStore | undefined;

/**
 * Stores a track's JPEG or PNG front picture as it is read (the main thread's covers job then
 * links it by its hash, without opening the file again or loading sharp); any other picture, or
 * one that cannot be stored, is left to the covers job, which reads it and records why.
 */
function pictureSink(imagesDir: string): PictureSink {
  if (store?.dir !== imagesDir) {
    store = new ImageStore(imagesDir);
    stored.clear();
  }
  const into = store;
  return (picture, hash) => {
    if (stored.has(hash)) return;
    if (stored.size >= STORED_KEPT) stored.clear();
    stored.add(hash);
    try {
      into.putWithoutSharp(Buffer.from(picture.buffer, picture.byteOffset, picture.byteLength), hash);
    } catch {
      // a cut picture, a full disk: the covers job tries again and says why
    }
  };
}

port.on('message', (request: ParseRequest) => {
  const answered = new Set<string>();
  const readOne = readInsideRoots(request.roots, 'blocking', request.imagesDir ? pictureSink(request.imagesDir) : undefined);
  const read = async (file: string): Promise<ExtractedTrack | FileError> => {
    const result = await readOne(file);
    answered.add(file);
    port.postMessage({ id: request.id, result } satisfies ParseReply);
    return result;
  };
  void extractFiles(request.paths, undefined, request.timeoutMs, read).then(
    // what the per-file timeout turned into an error row was never answered by `read`
    ({ errors }) => port.postMessage({ id: request.id, done: true, late: errors.filter((e) => !answered.has(e.path)) } satisfies ParseReply),
    (err: unknown) => port.postMessage({ id: request.id, done: true, late: [], failure: err instanceof Error ? err.message : String(err) } satisfies ParseReply),
  );
});
port.postMessage({ ready: true } satisfies ParseReply);
