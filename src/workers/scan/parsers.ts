// music-metadata, loaded on a thread's first parse with its tag mappers shared
// (shared_tag_mappers.ts): a command or thread that never parses a file does not load its ~80
// modules at start-up (an unchanged rescan parses nothing).
import type { parseBuffer } from 'music-metadata';
import type { BlockFile } from './block_reader.js';

export interface Parsers {
  parseBuffer: typeof parseBuffer;
  /** files above the size read whole: through the block cache (block_reader.ts) */
  BlockFile: typeof BlockFile;
}

let loading: Promise<Parsers> | undefined;

export function parsers(): Promise<Parsers> {
  loading ??= (async () => {
    await import('./shared_tag_mappers.js');
    const [library, blocks] = await Promise.all([import('music-metadata'), import('./block_reader.js')]);
    return { parseBuffer: library.parseBuffer, BlockFile: blocks.BlockFile };
  })();
  return loading;
}
