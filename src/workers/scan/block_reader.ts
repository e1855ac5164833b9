// Large files (above the size read whole) are parsed with random-access reads. music-metadata asks
// for a few bytes at a time (an atom or frame header, then its body), and strtok3's FileTokenizer
// turns every ask into a read of the file: 71 reads for a 4-minute M4A, 27 for an MP3. Here the
// tokenizer reads through a small cache of 64 KiB blocks instead, so neighbouring asks share one
// read; asks of a block or more (a picture, a seek far away) go straight to the file unless the
// cache holds them. The scan's own reads of the same file (frame sync, ID3 head, Ogg pages) go
// through the same cache. The last few KiB (ID3v1, APE and Lyrics3 footers) are one small read of
// their own rather than the file's last block (on average 32 KiB).
import type fs from 'node:fs/promises';
import { parseFromTokenizer, type IAudioMetadata, type IOptions } from 'music-metadata';
import { FileTokenizer } from 'strtok3';
import type { OpenFile, PositionalRead } from './open_file.js';

export const BLOCK_BYTES = 64 * 1024;
/** blocks kept per file: the header region and the current read position, with room to spare */
const BLOCKS_KEPT = 4;
/** the file's end read on its own: ID3v1 (128 bytes), APE footer (32), Lyrics3 (15 + 9) and what lies before them */
const TAIL_BYTES = 4096;

/** The part of a FileHandle that FileTokenizer uses, served from cached blocks. */
class BlockCache {
  private readonly blocks = new Map<number, Buffer>();
  private tail: Buffer | undefined;
  /** how many reads reached the file (for tests and benchmarks) */
  reads = 0;

  constructor(
    private readonly readAt: PositionalRead,
    private readonly size: number,
  ) {}

  async read<T extends NodeJS.ArrayBufferView>(buffer: T, offset: number, length: number, position: number): Promise<{ bytesRead: number; buffer: T }> {
    const target = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const tailStart = this.size - TAIL_BYTES;
    if (position >= tailStart && tailStart >= BLOCK_BYTES) {
      this.tail ??= await this.readTail(tailStart);
      const from = position - tailStart;
      return { bytesRead: this.tail.copy(target, offset, from, Math.min(this.tail.length, from + length)), buffer };
    }
    if (length >= BLOCK_BYTES && !this.holds(position, length)) {
      this.reads++;
      return { bytesRead: await this.readAt(buffer, offset, length, position), buffer };
    }
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

  /** whether every block under the range is cached already */
  private holds(position: number, length: number): boolean {
    for (let i = Math.floor(position / BLOCK_BYTES); i * BLOCK_BYTES < Math.min(position + length, this.size); i++) if (!this.blocks.has(i)) return false;
    return true;
  }

  private async readTail(start: number): Promise<Buffer> {
    const data = Buffer.allocUnsafe(this.size - start);
    this.reads++;
    return data.subarray(0, await this.readAt(data, 0, data.length, start));
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

/** A large file already open, read through one block cache by music-metadata and by the scan's own reads. */
export class BlockFile {
  private readonly cache: BlockCache;

  constructor(private readonly file: OpenFile) {
    this.cache = new BlockCache(file.read, file.size);
  }

  /** how many reads reached the file so far */
  get reads(): number {
    return this.cache.reads;
  }

  /**
   * music-metadata's `parseFile` on the open file. The parser is chosen by the file's extension
   * first, as `parseFile` does.
   */
  parse(options: IOptions = {}): Promise<IAudioMetadata> {
    return parseFromTokenizer(new CachedFileTokenizer(this.cache, this.file.path, this.file.size), options);
  }

  /** `length` bytes at `position`, fewer at the end of the file */
  async readAt(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.file.size - position)));
    if (buffer.length === 0) return buffer;
    const { bytesRead } = await this.cache.read(buffer, 0, buffer.length, position);
    return buffer.subarray(0, bytesRead);
  }
}
