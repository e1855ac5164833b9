// Entry point of a tag-parsing thread (see parse_pool.ts): reads the files of one request with the
// scan's own extractor, with blocking reads (this thread has nothing else to do while it waits),
// answers each file as soon as it is read, then says the request is done.
import { parentPort } from 'node:worker_threads';
import type { ExtractedTrack, FileError } from './extracted.js';
import { extractFiles, readInsideRoots } from './metadata_extractor.js';
import type { ParseReply, ParseRequest } from './parse_pool.js';

const port = parentPort;
if (!port) throw new Error('parse_thread runs as a worker thread of the parse pool');

port.on('message', (request: ParseRequest) => {
  const answered = new Set<string>();
  const readOne = readInsideRoots(request.roots, 'blocking');
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
