// Large files (above the size read whole) are parsed with random-access reads. music-metadata asks
// for a few bytes at a time (an atom or frame header, then its body), and strtok3's FileTokenizer
// turns every ask into a read of the file: 71 reads for a 4-minute M4A, 27 for an MP3. Here the
// tokenizer reads through a small cache of 64 KiB blocks instead, so neighbouring asks share one
// read; asks of a block or more (a picture, a seek far away) go straight to the file.
import type fs from 'node:fs/promises';
import { parseFromTokenizer, type IAudioMetadata, type IOptions } from 'music-metadata';
import { FileTokenizer } from 'strtok3';
import type { OpenFile, PositionalRead } from './open_file.js';

export const BLOCK_BYTES = 64 * 1024;
/** blocks kept per file: the header region and the current read position, with room to spare */
const BLOCKS_KEPT = 4;

/** The part of a FileHandle that FileTokenizer uses, served from cached blocks. */
class BlockCache {
  private readonly blocks = new Map<number, Buffer>();
  /** how many reads reached the file (for tests and benchmarks) */
  reads = 0;

  constructor(
    private readonly readAt: PositionalRead,
    private readonly size: number,
  ) {}

  async read<T extends NodeJS.ArrayBufferView>(buffer: T, offset: number, length: number, position: number): Promise<{ bytesRead: number; buffer: T }> {
    if (length >= BLOCK_BYTES) {
      this.reads++;
      return { bytesRead: await this.readAt(buffer, offset, length, position), buffer };
    }
    const target = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / BLOCK_BYTES);
      const block = await this.block(index);
      const from = at - index * BLOCK_BYTES;
      if (from >= block.length) break; // end of file
      done += block.copy(target, offset + done, from, Math.min(block.length, from + length - done));
    }
    return { bytesRead: done, buffer };
  }

  private async block(index: number): Promise<Buffer> {
    const cached = this.blocks.get(index);
    if (cached) {
      this.blocks.delete(index); // most recently used goes last
      this.blocks.set(index, cached);
      return cached;
    }
    const start = index * BLOCK_BYTES;
    const data = Buffer.allocUnsafe(Math.max(0, Math.min(BLOCK_BYTES, this.size - start)));
    this.reads++;
    const block = data.subarray(0, data.length > 0 ? await this.readAt(data, 0, data.length, start) : 0);
    if (this.blocks.size >= BLOCKS_KEPT) this.blocks.delete(this.blocks.keys().next().value!);
    this.blocks.set(index, block);
    return block;
  }
}

/** strtok3's own file tokenizer (random access, file info), reading through the cache */
class CachedFileTokenizer extends FileTokenizer {
  constructor(cache: BlockCache, file: string, size: number) {
    super(cache as unknown as fs.FileHandle, { fileInfo: { path: file, size } });
  }
}

/**
 * music-metadata's `parseFile` on a file already open, reading through the block cache. The parser
 * is chosen by the file's extension first, as `parseFile` does. `stats.reads` tells how many reads
 * the file took.
 */
export async function parseOpenFile(file: OpenFile, options: IOptions = {}, stats?: { reads: number }): Promise<IAudioMetadata> {
  const cache = new BlockCache(file.read, file.size);
  try {
    return await parseFromTokenizer(new CachedFileTokenizer(cache, file.path, file.size), options);
  } finally {
    if (stats) stats.reads = cache.reads;
  }
}
