// metadata.extract_batch: tags and audio properties of each file, with music-metadata.
// A file that cannot be read becomes an error entry; the batch always goes on.
import { OutsideRootsError, realRoots, resolveInsideRoots } from '../../services/library/roots.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseBuffer, parseFile, type IAudioMetadata, type IPicture } from 'music-metadata';
import type { FailureContext, TaskContext } from '../../tasks/define.js';
import type { ExtractedTrack, FileError } from './extracted.js';
import { normalizeGenres } from '../../services/genres/normalize.js';
import { cleanName, splitArtists, UNKNOWN_ALBUM, UNKNOWN_ARTIST } from './names.js';
import { parseLargeFile } from './block_reader.js';
import { isCancelled } from './sessions.js';
import { unreadableReason } from './walk.js';

/**
 * Files up to this size are read in one go and parsed from memory (2.3x faster than parseFile's
 * many small reads); larger ones are parsed with random-access reads, which read only their tag
 * and header blocks, so a 4 MB track or a 500 MB WAV never sits in memory. bench:scan: 1 MiB was
 * as fast as 8 MiB on full-length tracks with ~85 MiB less peak memory (docs/benchmarks.md).
 */
export const READ_WHOLE_MAX_BYTES = 1024 * 1024;
const PARALLEL_FILES = 4;
/**
 * A file that takes longer than this (a hung network mount, a parser stuck on a hostile file) becomes
 * an error row and the batch goes on. What it blocks (a thread-pool read) cannot be cancelled:
 * it finishes, or not, in the background.
 */
export const FILE_TIMEOUT_MS = 60_000;

export interface ExtractOutcome {
  items: ExtractedTrack[];
  errors: FileError[];
}

export async function extractFiles(
  paths: readonly string[],
  signal?: AbortSignal,
  timeoutMs = FILE_TIMEOUT_MS,
  read: (file: string) => Promise<ExtractedTrack | FileError> = extractFile,
): Promise<ExtractOutcome> {
  const items: ExtractedTrack[] = [];
  const errors: FileError[] = [];
  let next = 0;
  const lane = async () => {
    while (next < paths.length) {
      signal?.throwIfAborted();
      const file = paths[next++]!;
      const result = await withFileTimeout(file, read(file), timeoutMs);
      if ('message' in result) errors.push(result);
      else items.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, paths.length) }, lane));
  return { items, errors };
}

async function withFileTimeout(file: string, work: Promise<ExtractedTrack | FileError>, timeoutMs: number): Promise<ExtractedTrack | FileError> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<FileError>((resolve) => {
    timer = setTimeout(
      () => resolve({ path: file, size: null, mtimeMs: null, stage: 'extract', message: `reading the file took longer than ${Math.round(timeoutMs / 1000)} s (hung disk or network mount?)`, transient: true }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function extractFile(file: string): Promise<ExtractedTrack | FileError> {
  let size: number | null = null;
  let mtimeMs: number | null = null;
  try {
    // one open + fstat + read + close for a small file: the fewest thread-pool round trips
    // non-blocking: a named pipe called "x.mp3" must not hold the read forever (regular files ignore it)
    readFault?.(file);
    const handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let whole: Buffer | null = null;
    try {
      const stat = await handle.stat();
      size = stat.size;
      mtimeMs = Math.trunc(stat.mtimeMs);
      if (!stat.isFile()) return { path: file, size, mtimeMs, stage: 'extract', message: 'not a regular file' };
      if (size === 0) return { path: file, size, mtimeMs, stage: 'extract', message: 'empty file (0 bytes)' };
      if (size <= READ_WHOLE_MAX_BYTES) {
        whole = Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(whole, 0, size, 0);
        whole = whole.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
    const metadata = whole ? await parseBuffer(whole, { path: file, size: whole.length }) : await parseLargeFile(file);
    const { format } = metadata;
    // noise behind an audio extension often contains something that looks like a frame header
    // (random bytes "are" 6-channel AAC): without a duration, only tags make it believable
    if (format.duration === undefined && (!format.container || !format.sampleRate || format.tagTypes.length === 0)) {
      return { path: file, size, mtimeMs, stage: 'extract', message: 'no audio stream recognised (no duration, no tags)' };
    }
    return toTrack(file, size, mtimeMs, metadata);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code ? unreadableReason(file, err) : `unreadable or corrupt: ${err instanceof Error ? err.message : String(err)}`;
    // a failure that may clear up is retried by the next scan: no size/mtime to compare against
    if (isTransient(code, message)) return { path: file, size: null, mtimeMs: null, stage: 'extract', message, transient: true };
    return { path: file, size, mtimeMs, stage: 'extract', message };
  }
}

/** I/O errors that may clear up by themselves (network mounts, USB disks, permissions being fixed). */
const TRANSIENT_CODES = new Set(['ENOENT', 'EIO', 'EACCES', 'EPERM', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'ESTALE', 'ENOTCONN', 'EHOSTDOWN', 'EHOSTUNREACH', 'EMFILE', 'ENFILE', 'ENOMEM', 'ENXIO', 'ECONNRESET']);

function isTransient(code: string | undefined, message: string): boolean {
  // a name that is not UTF-8 cannot be opened until the user renames the file: permanent
  return code !== undefined && TRANSIENT_CODES.has(code) && !message.includes('not valid UTF-8');
}

/** Test seam: throws an injected error (EIO…) when `file` is opened. Never set outside tests. */
let readFault: ((file: string) => void) | undefined;
export function injectReadFault(fault: ((file: string) => void) | undefined): void {
  readFault = fault;
}

/**
 * RIFF INFO chunks (WAV, AIFF) have no declared text encoding; most tools write UTF-8 and
 * music-metadata reads them as Latin-1, so "Sigur Rós" arrives as "Sigur RÃ³s". Re-decode such
 * strings when that yields valid UTF-8.
 */
export function repairMojibake(text: string): string {
  if (!/[\u00c2-\u00f4][\u0080-\u00bf]/.test(text) || /[^\u0000-\u00ff]/.test(text)) return text;
  const decoded = Buffer.from(text, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? text : decoded;
}

function repairRiffText(metadata: IAudioMetadata): void {
  if (!/^(WAVE|AIFF|AIFF-C)$/i.test(metadata.format.container ?? '')) return;
  const common = metadata.common as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(common)) {
    if (typeof value === 'string') common[key] = repairMojibake(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) common[key] = value.map(repairMojibake);
  }
}

function toTrack(file: string, size: number, mtimeMs: number, metadata: IAudioMetadata): ExtractedTrack {
  repairRiffText(metadata);
  const { common, format } = metadata;
  const fallbacks: string[] = [];

  let title = cleanName(common.title ?? '');
  if (!title) {
    title = titleFromFileName(file);
    fallbacks.push('title');
  }
  const albumArtists = splitArtists(common.albumartists ?? (common.albumartist ? [common.albumartist] : []));
  let artists = splitArtists(common.artists ?? (common.artist ? [common.artist] : []));
  if (artists.length === 0) {
    artists = albumArtists.length > 0 ? albumArtists : [UNKNOWN_ARTIST];
    fallbacks.push('artist');
  }
  let album = cleanName(common.album ?? '');
  if (!album) {
    album = UNKNOWN_ALBUM;
    fallbacks.push('album');
  }
  const display = cleanName(common.artist ?? '') || artists.join('; ');

  return {
    path: file,
    size,
    mtimeMs,
    format: format.container ?? null,
    codec: format.codec ?? null,
    lossless: format.lossless ?? null,
    duration: finite(format.duration),
    bitrate: int(format.bitrate),
    sampleRate: int(format.sampleRate),
    channels: int(format.numberOfChannels),
    bitDepth: int(format.bitsPerSample),
    title,
    artists,
    artistDisplay: display,
    albumArtists,
    album,
    discNo: int(common.disk?.no),
    discTotal: int(common.disk?.of),
    trackNo: int(common.track?.no),
    trackTotal: int(common.track?.of),
    year: int(common.year),
    date: common.date ?? null,
    originalDate: common.originaldate ?? null,
    // canonical names from the shipped taxonomy; junk such as "00s" or "Unknown" dropped
    genres: normalizeGenres(common.genre ?? []).map((g) => g.name),
    composer: common.composer && common.composer.length > 0 ? common.composer.join('; ') : null,
    label: common.label?.[0] ?? null,
    isrc: common.isrc?.[0] ?? null,
    mbTrackId: common.musicbrainz_trackid ?? null,
    mbRecordingId: common.musicbrainz_recordingid ?? null,
    mbAlbumId: common.musicbrainz_albumid ?? null,
    mbArtistIds: common.musicbrainz_artistid ?? [],
    mbAlbumArtistIds: common.musicbrainz_albumartistid ?? [],
    mbReleaseGroupId: common.musicbrainz_releasegroupid ?? null,
    compilation: common.compilation === true,
    rgTrackGain: finite(common.replaygain_track_gain?.dB),
    rgTrackPeak: finite(common.replaygain_track_peak?.ratio),
    rgAlbumGain: finite(common.replaygain_album_gain?.dB),
    rgAlbumPeak: finite(common.replaygain_album_peak?.ratio),
    hasLyrics: (common.lyrics?.length ?? 0) > 0,
    pictureHash: pictureHash(common.picture),
    bpm: finite(common.bpm),
    key: common.key ?? null,
    abTags: abTags(metadata),
    fallbacks,
  };
}

/** "03 - Song Name.flac" → "Song Name" */
export function titleFromFileName(file: string): string {
  const stem = path.basename(file, path.extname(file));
  return cleanName(stem.replace(/^\d{1,3}\s*[-._)]\s*/, '')) || cleanName(stem) || path.basename(file);
}

/** The front cover (by picture type), else the first picture. */
export function frontPicture(pictures: readonly IPicture[] | undefined): IPicture | null {
  if (!pictures || pictures.length === 0) return null;
  return pictures.find((p) => p.type?.toLowerCase().includes('front')) ?? pictures[0]!;
}

function pictureHash(pictures: readonly IPicture[] | undefined): string | null {
  const front = frontPicture(pictures);
  return front ? createHash('sha1').update(front.data).digest('hex') : null;
}

/** The embedded front cover of a file, read the same way the scan reads tags. */
export async function readEmbeddedPicture(file: string): Promise<IPicture | null> {
  const { size } = await fs.stat(file);
  const metadata =
    size <= READ_WHOLE_MAX_BYTES ? await parseBuffer(await fs.readFile(file), { path: file, size }, { duration: false }) : await parseFile(file, { duration: false });
  return frontPicture(metadata.common.picture);
}

/** AcousticBrainz-style tags (`ab:lo:rhythm:bpm` …) from any tag format, keys lower-cased. */
function abTags(metadata: IAudioMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tags of Object.values(metadata.native)) {
    for (const tag of tags) {
      const id = tag.id.toLowerCase();
      const at = id.indexOf('ab:');
      if (at < 0 || (at > 0 && !/[:\s]$/.test(id.slice(0, at)))) continue;
      const value = typeof tag.value === 'string' ? tag.value : typeof tag.value === 'number' ? String(tag.value) : null;
      if (value !== null && !(id.slice(at) in out)) out[id.slice(at)] = value;
    }
  }
  return out;
}

function finite(value: number | undefined | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function int(value: number | undefined | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : null;
}

export interface ExtractPayload {
  scanId?: string;
  batchNo?: number;
  paths: string[];
}

/**
 * Reads a file unless it now resolves outside the library roots (`roots`: real paths, from
 * realRoots): a link re-pointed outside the roots since the walk is not read.
 */
export function readInsideRoots(roots: readonly string[]): (file: string) => Promise<ExtractedTrack | FileError> {
  return async (file) => {
    try {
      await resolveInsideRoots(file, roots);
    } catch (err) {
      if (err instanceof OutsideRootsError) return { path: file, size: null, mtimeMs: null, stage: 'extract', message: err.message };
      // anything else (gone, unreadable) is reported by the read itself
    }
    return extractFile(file);
  };
}

/** The task: extract, then hand the batch to the single writer. */
export async function extractBatch(payload: ExtractPayload, ctx: TaskContext): Promise<{ items: number; errors: number; skipped?: string }> {
  if (await isCancelled(ctx.db, payload.scanId)) return { items: 0, errors: 0, skipped: 'scan cancelled' };
  // in the parse threads; each file resolved again at open time (readInsideRoots)
  const { items, errors } = await ctx.services.parse.extract(payload.paths, await realRoots(ctx.db), ctx.signal);
  await ctx.enqueue('batch.process_entities', {
    ...(payload.scanId !== undefined ? { scanId: payload.scanId } : {}),
    ...(payload.batchNo !== undefined ? { batchNo: payload.batchNo } : {}),
    items,
    errors,
  });
  if (payload.scanId) await ctx.progress({ scanId: payload.scanId, stage: 'extract', batchNo: payload.batchNo ?? null, items: items.length, errors: errors.length });
  return { items: items.length, errors: errors.length };
}

/** When the batch failed for good, each of its files still ends as an error row (and the scan can complete). */
export async function extractBatchFailed(payload: ExtractPayload, ctx: FailureContext, error: string): Promise<void> {
  await ctx.enqueue('batch.process_entities', {
    ...(payload.scanId !== undefined ? { scanId: payload.scanId } : {}),
    ...(payload.batchNo !== undefined ? { batchNo: payload.batchNo } : {}),
    items: [],
    errors: payload.paths.map((p) => ({ path: p, size: null, mtimeMs: null, stage: 'extract', message: `extraction batch failed: ${error}`, transient: true })),
  });
}
