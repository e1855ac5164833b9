// What `metadata.extract_batch` (extract_batch.ts) reads of each file: tags and audio properties, with music-metadata.
// A file that cannot be read becomes an error entry; the batch always goes on.
import { OutsideRootsError } from '../../services/library/roots.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { IAudioMetadata, IOptions, IPicture } from 'music-metadata';
import { asfAudio, impossibleHeader, mp4AacConfig, oggAudio, plausibleBitrate, plausibleDuration, type Properties, type ReadAt } from './audio_properties.js';
import type { ExtractedTrack, FileError } from './extracted.js';
import { frameSyncConfirmed, isFrameStream, worthProbing } from './frame_sync.js';
import { ffprobeAvailable, probeAudio, type ProbedAudio } from './ffprobe_fallback.js';
import { normalizeGenres } from '../../services/genres/normalize.js';
import { cleanName, splitArtists, UNKNOWN_ALBUM, UNKNOWN_ARTIST } from './names.js';
import { openLibraryFile, type OpenedFile, type ReadMode } from './open_file.js';
import { parsers } from './parsers.js';
import { displayValues, id3ArtistFrames, readOwnBlock, replayGain, splitArtistFrames, winningTagType, type TagView } from './tag_block.js';
import { extensionOf, unreadableReason } from './walk.js';

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
/** artist frames come before the pictures in every tagger's layout: the head of a tag is enough */
const ID3_HEAD_BYTES = 256 * 1024;

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
  // the parsers load on a thread's first batch: their loading is not the first file's read time
  if (paths.length > 0) await parsers();
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

/** Takes a track's front picture (its bytes, their sha256) as it is read: the parse thread stores it (parse_thread.ts). */
export type PictureSink = (picture: Uint8Array, hash: string) => void;

/**
 * One file's tags and audio properties, or the reason it is not a track. With `roots` (real paths,
 * from realRoots) the open file must lie inside one of them: a link re-pointed outside the roots
 * since the walk is not read.
 */
export async function extractFile(file: string, roots?: readonly string[], mode: ReadMode = 'async', onPicture?: PictureSink): Promise<ExtractedTrack | FileError> {
  let size: number | null = null;
  let mtimeMs: number | null = null;
  try {
    readFault?.(file);
    // opened once and checked inside the roots; a small file is read whole (open, fstat, read)
    const opened = await openLibraryFile(file, roots, mode, READ_WHOLE_MAX_BYTES);
    try {
      size = opened.size;
      mtimeMs = opened.mtimeMs;
      if (!opened.regular) return { path: file, size, mtimeMs, stage: 'extract', message: 'not a regular file' };
      if (size === 0) return { path: file, size, mtimeMs, stage: 'extract', message: 'empty file (0 bytes)' };
      return await extractOpened(opened, size, mtimeMs, onPicture);
    } finally {
      await opened.close();
    }
  } catch (err) {
    if (err instanceof OutsideRootsError) return { path: file, size: null, mtimeMs: null, stage: 'extract', message: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    const message = code ? unreadableReason(file, err) : `unreadable or corrupt: ${err instanceof Error ? err.message : String(err)}`;
    // a failure that may clear up is retried by the next scan: no size/mtime to compare against
    if (isTransient(code, message)) return { path: file, size: null, mtimeMs: null, stage: 'extract', message, transient: true };
    return { path: file, size, mtimeMs, stage: 'extract', message };
  }
}

/** extractFile once the file is open: parsed from memory when read whole, else by position through the open file. */
async function extractOpened(opened: OpenedFile, size: number, mtimeMs: number, onPicture?: PictureSink): Promise<ExtractedTrack | FileError> {
  const file = opened.path;
  const data = opened.whole;
  const { parseBuffer, BlockFile } = await parsers();
  let parse: (options?: IOptions) => Promise<IAudioMetadata>;
  let readAt: ReadAt;
  if (data) {
    parse = (options = {}) => parseBuffer(data, { path: file, size: data.length }, options);
    readAt = async (position, length) => data.subarray(position, position + length);
  } else {
    // a large file: the parses and the reads below share one block cache
    const blocks = new BlockFile(opened);
    parse = (options = {}) => blocks.parse(options);
    readAt = (position, length) => blocks.readAt(position, length);
  }

  let metadata: IAudioMetadata | undefined;
  let problem: string | undefined;
  try {
    metadata = await parse();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw err;
    problem = `unreadable or corrupt: ${err instanceof Error ? err.message : String(err)}`;
  }
  let props: AudioProps | undefined;
  if (metadata) {
    props = await audioProps(metadata, size, readAt, data !== null, parse);
    problem = impossibleHeader(props) ?? (!metadata.format.container || !props.sampleRate ? 'no audio stream recognised' : undefined);
    if (!problem && !plausibleDuration(props.duration)) problem = 'no audio frames found (no duration)';
    if (!problem && isFrameStream(metadata.format.container) && !(await frameSyncConfirmed(readAt))) problem = 'no audio frames found (no frame sync confirmed by a next frame)';
  }
  let view = metadata ? await tagView(metadata, readAt) : undefined;
  if (!problem && metadata && metadata.format.tagTypes.length === 0 && /^ogg/i.test(metadata.format.container ?? '') && /flac/i.test(metadata.format.codec ?? '')) {
    // music-metadata reads no Vorbis comments in Ogg FLAC (upstream bug, docs/scan.md): ffprobe does
    const probed = await probeAudio(file);
    if (probed) view = tagViewOfProbe(probed.tags);
  }
  if (problem) {
    // music-metadata could not place it: ffprobe decides whether there is an audio stream, unless
    // nothing in the file looks like audio (random bytes named .flac)
    const probed = (await worthProbing(readAt, extensionOf(file))) ? await probeAudio(file) : undefined;
    if (probed && !impossibleHeader(probed)) {
      props = fromProbe(probed, props);
      // music-metadata skips some tag blocks it does not parse (Ogg FLAC comments): ffprobe's then
      if (!metadata || metadata.format.tagTypes.length === 0) view = tagViewOfProbe(probed.tags);
      problem = undefined;
    } else if (metadata && props && view && !(await ffprobeAvailable()) && !impossibleHeader(props) && props.sampleRate && metadata.format.tagTypes.length > 0) {
      // no second opinion here: a recognised header with tags is believed, without a duration
      problem = undefined;
    } else if (problem.startsWith('no audio frames')) {
      problem = 'no audio stream recognised (no audio frames, tags only?)';
    }
  }
  if (problem || !props || !view) return { path: file, size, mtimeMs, stage: 'extract', message: problem ?? 'no audio stream recognised' };
  const track = toTrack(file, size, mtimeMs, view, props, metadata);
  if (onPicture && track.pictureHash) {
    const front = frontPicture(metadata?.common.picture);
    if (front) onPicture(front.data, track.pictureHash);
  }
  return track;
}

interface AudioProps extends Properties {
  format: string | null;
  codec: string | null;
  lossless: boolean | null;
  bitDepth?: number;
}

/**
 * Audio properties with music-metadata's gaps filled: Ogg durations from the last page, WMA rate and
 * channels from the ASF stream properties, and for any other container without a duration in its
 * header (ADTS AAC, MP3 without a Xing frame) a second parse that counts frames; MP4 AAC rate and
 * channels from the decoder config (HE-AAC, mono).
 */
async function audioProps(metadata: IAudioMetadata, size: number, readAt: ReadAt, inMemory: boolean, parse: (options?: IOptions) => Promise<IAudioMetadata>): Promise<AudioProps> {
  const f = metadata.format;
  const props: AudioProps = {
    format: f.container ?? null,
    codec: f.codec ?? null,
    lossless: f.lossless ?? null,
    duration: f.duration,
    sampleRate: f.sampleRate,
    channels: f.numberOfChannels,
    bitrate: f.bitrate,
    bitDepth: f.bitsPerSample,
  };
  if (/^ogg/i.test(f.container ?? '')) {
    if (props.duration === undefined) {
      const ogg = await oggAudio(readAt, size);
      if (ogg) {
        props.duration = ogg.duration;
        props.sampleRate ??= ogg.rate;
        props.channels ??= ogg.channels;
        props.bitrate ??= (size * 8) / ogg.duration;
      }
    }
    return props;
  }
  if (/^asf/i.test(f.container ?? '') && (props.sampleRate === undefined || props.channels === undefined)) {
    const asf = await asfAudio(readAt, size);
    if (asf) {
      props.sampleRate ??= asf.rate;
      props.channels ??= asf.channels;
      props.bitDepth ??= asf.bitsPerSample || undefined;
    }
  }
  // only when cheap (the file is in memory) or when an HE-AAC core rate is likely
  if (/AAC/.test(f.codec ?? '') && /(^|\/)(M4A|M4B|M4P|isom|iso\d|mp4\d|mp42|3gp\d?|dash)(\/|$)/i.test(f.container ?? '') && (inMemory || (props.sampleRate ?? 0) <= 24000)) {
    const aac = await mp4AacConfig(readAt, size);
    if (aac) {
      props.sampleRate = aac.rate;
      props.channels = aac.channels ?? props.channels;
    }
  }
  if (props.duration === undefined && f.container && props.sampleRate) {
    const counted = await parse({ duration: true }).catch(() => undefined);
    props.duration = counted?.format.duration;
    props.bitrate ??= counted?.format.bitrate;
  }
  return props;
}

/** ffprobe's reading where music-metadata's is missing or impossible. */
function fromProbe(probed: ProbedAudio, mine: AudioProps | undefined): AudioProps {
  const usable = mine && !impossibleHeader(mine) && mine.sampleRate ? mine : undefined;
  return {
    format: usable?.format ?? probed.format,
    codec: usable?.codec ?? probed.codec,
    lossless: usable?.lossless ?? null,
    duration: plausibleDuration(usable?.duration) ? usable!.duration : probed.duration,
    sampleRate: usable?.sampleRate ?? probed.sampleRate,
    channels: usable?.channels ?? probed.channels,
    bitrate: usable?.bitrate ?? probed.bitrate,
    bitDepth: usable?.bitDepth ?? probed.bitDepth,
  };
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

/** The fields of one tag block (see tag_block.ts), or music-metadata's merged view for the container's own tags. */
async function tagView(metadata: IAudioMetadata, readAt: ReadAt): Promise<TagView> {
  repairRiffText(metadata);
  const type = winningTagType(metadata.native);
  const native = type ? metadata.native[type]! : [];
  const written = splitArtistFrames(type, native) ? id3ArtistFrames(await readAt(0, ID3_HEAD_BYTES)) : undefined;
  const own = type ? readOwnBlock(type, native, written) : undefined;
  if (own) return own;
  const c = metadata.common;
  // Matroska: music-metadata maps no album from track-level tags
  const album = c.album ?? native.find((t) => t.id.toLowerCase() === 'track:album' && typeof t.value === 'string')?.value as string | undefined;
  const shown = displayValues(type, native);
  const artist = shown && shown.artist.length > 0 ? shown.artist : c.artist ? [c.artist] : [];
  const albumArtist = shown && shown.albumArtist.length > 0 ? shown.albumArtist : c.albumartist ? [c.albumartist] : [];
  return {
    title: c.title,
    artist,
    artists: linked(c.artists ?? [], artist),
    album,
    albumArtist,
    albumArtists: linked(c.albumartists ?? [], albumArtist),
    track: c.track,
    disk: c.disk,
    year: c.year,
    date: c.date,
    genre: c.genre ?? [],
    compilation: c.compilation,
    mbRecordingId: c.musicbrainz_recordingid,
    mbTrackId: c.musicbrainz_trackid,
    mbAlbumId: c.musicbrainz_albumid,
    mbArtistIds: c.musicbrainz_artistid ?? [],
    mbAlbumArtistIds: c.musicbrainz_albumartistid ?? [],
    mbReleaseGroupId: c.musicbrainz_releasegroupid,
    rgTrackGain: c.replaygain_track_gain?.dB,
    rgTrackPeak: c.replaygain_track_peak?.ratio,
    rgAlbumGain: c.replaygain_album_gain?.dB,
    rgAlbumPeak: c.replaygain_album_peak?.ratio,
    ...replayGain(native),
  };
}

/**
 * The names to link: a multi-value list (ARTISTS, Discogs artists) without the display string it
 * repeats ("Beth Hart, Joe Bonamassa" beside "Beth Hart" and "Joe Bonamassa"), else the shown values.
 */
function linked(list: readonly string[], shown: readonly string[]): string[] {
  const parts = list.filter((v) => !shown.includes(v));
  return parts.length > 0 ? parts : [...shown];
}

/** Tags as ffprobe names them, for files only ffprobe reads. */
function tagViewOfProbe(tags: Record<string, string>): TagView {
  const list = (v: string | undefined) => (v ? [v] : []);
  const pair = (v: string | undefined) => {
    const [a, b] = (v ?? '').split('/').map((x) => (/^\s*\d+\s*$/.test(x) ? Number(x) : null));
    return { no: a ?? null, of: b ?? null };
  };
  const date = tags.date ?? tags.year;
  const year = date?.match(/^\s*(\d{4})/)?.[1];
  return {
    title: tags.title,
    artist: list(tags.artist),
    artists: list(tags.artist),
    album: tags.album,
    albumArtist: list(tags.album_artist ?? tags.albumartist),
    albumArtists: list(tags.album_artist ?? tags.albumartist),
    track: pair(tags.track),
    disk: pair(tags.disc),
    ...(year ? { year: Number(year) } : {}),
    ...(date ? { date } : {}),
    genre: list(tags.genre),
    mbRecordingId: tags.musicbrainz_trackid,
    mbAlbumId: tags.musicbrainz_albumid,
    mbArtistIds: list(tags.musicbrainz_artistid),
    mbAlbumArtistIds: list(tags.musicbrainz_albumartistid),
    mbReleaseGroupId: tags.musicbrainz_releasegroupid,
    ...replayGain(Object.entries(tags).map(([id, value]) => ({ id, value }))),
  };
}

function toTrack(file: string, size: number, mtimeMs: number, view: TagView, props: AudioProps, metadata: IAudioMetadata | undefined): ExtractedTrack {
  const common = metadata?.common;
  const fallbacks: string[] = [];

  let title = cleanName(view.title ?? '');
  if (!title) {
    title = titleFromFileName(file);
    fallbacks.push('title');
  }
  const albumArtists = splitArtists(view.albumArtists);
  let artists = splitArtists(view.artists.length > 0 ? view.artists : view.artist);
  if (artists.length === 0) {
    artists = albumArtists.length > 0 ? albumArtists : [UNKNOWN_ARTIST];
    fallbacks.push('artist');
  }
  let album = cleanName(view.album ?? '');
  if (!album) {
    album = UNKNOWN_ALBUM;
    fallbacks.push('album');
  }
  const display = cleanName(view.artist.join('; ')) || artists.join('; ');
  const duration = plausibleDuration(props.duration) ? props.duration : null;
  if (duration === null) fallbacks.push('duration');

  return {
    path: file,
    size,
    mtimeMs,
    format: props.format,
    codec: props.codec,
    lossless: props.lossless,
    duration,
    bitrate: int(plausibleBitrate(props.bitrate)),
    sampleRate: int(props.sampleRate),
    channels: int(props.channels),
    bitDepth: int(props.bitDepth),
    title,
    artists,
    artistDisplay: display,
    albumArtists,
    albumArtistDisplay: cleanName(view.albumArtist.join('; ')) || null,
    album,
    discNo: int(view.disk.no),
    discTotal: int(view.disk.of),
    trackNo: int(view.track.no),
    trackTotal: int(view.track.of),
    year: int(view.year),
    date: view.date ?? null,
    originalDate: common?.originaldate ?? null,
    // canonical names from the shipped taxonomy; junk such as "00s" or "Unknown" dropped
    genres: normalizeGenres(view.genre).map((g) => g.name),
    composer: common?.composer && common.composer.length > 0 ? common.composer.join('; ') : null,
    label: common?.label?.[0] ?? null,
    isrc: common?.isrc?.[0] ?? null,
    mbTrackId: view.mbTrackId ?? null,
    mbRecordingId: view.mbRecordingId ?? null,
    mbAlbumId: view.mbAlbumId ?? null,
    mbArtistIds: view.mbArtistIds,
    mbAlbumArtistIds: view.mbAlbumArtistIds,
    mbReleaseGroupId: view.mbReleaseGroupId ?? null,
    compilation: view.compilation === true,
    rgTrackGain: finite(view.rgTrackGain),
    rgTrackPeak: finite(view.rgTrackPeak),
    rgAlbumGain: finite(view.rgAlbumGain),
    rgAlbumPeak: finite(view.rgAlbumPeak),
    hasLyrics: (common?.lyrics?.length ?? 0) > 0,
    pictureHash: pictureHash(common?.picture),
    bpm: finite(common?.bpm),
    key: common?.key ?? null,
    abTags: metadata ? abTags(metadata) : {},
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

/** the front picture's content address in the image store (sha256): the covers job links a stored one without reading the file */
function pictureHash(pictures: readonly IPicture[] | undefined): string | null {
  const front = frontPicture(pictures);
  return front ? createHash('sha256').update(front.data).digest('hex') : null;
}

/**
 * The embedded front cover of a file, read the same way the scan reads tags; the open file must lie
 * inside one of `roots` (real paths, from realRoots), else OutsideRootsError.
 */
export async function readEmbeddedPicture(file: string, roots: readonly string[]): Promise<IPicture | null> {
  const opened = await openLibraryFile(file, roots, 'async', READ_WHOLE_MAX_BYTES);
  try {
    if (!opened.regular) throw new Error(`${file} is not a regular file`);
    const { parseBuffer, BlockFile } = await parsers();
    const metadata = opened.whole ? await parseBuffer(opened.whole, { path: file, size: opened.whole.length }, { duration: false }) : await new BlockFile(opened).parse({ duration: false });
    return frontPicture(metadata.common.picture);
  } finally {
    await opened.close();
  }
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

/** extractFile confined to `roots` (real paths, from realRoots), for extractFiles */
export function readInsideRoots(roots: readonly string[], mode: ReadMode = 'async', onPicture?: PictureSink): (file: string) => Promise<ExtractedTrack | FileError> {
  return (file) => extractFile(file, roots, mode, onPicture);
}
