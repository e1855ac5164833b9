// Is there really an MPEG audio or ADTS AAC stream here (and, before asking ffprobe, anything audio
// at all)? music-metadata believes the first 11- or 12-bit frame sync it meets, so 4 KiB of random
// bytes named .mp3 became a 0.14 s "track". ffmpeg and mutagen only believe a sync that the next
// frame header confirms; so do we (docs/scan.md).
import type { ReadAt } from './audio_properties.js';

/** How far past the ID3v2 tag the first frame is looked for. */
const SEARCH_BYTES = 64 * 1024;
/** read in steps of this much: a large file's first frames then come from the parse's cached blocks (block_reader.ts) */
const STEP_BYTES = 4 * 1024;

interface FrameHeader {
  /** the bits a following frame of the same stream repeats */
  key: number;
  length: number;
}

const MPEG1_KBPS = [
  [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448], // layer I
  [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384], // layer II
  [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], // layer III
];
const MPEG2_KBPS = [
  [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const MPEG_RATES = [44_100, 48_000, 32_000];

/** An MPEG-1/2/2.5 layer I–III header at `o`, or ADTS; free-format frames have no length and are left to ffprobe. */
function headerAt(b: Buffer, o: number): FrameHeader | undefined {
  if (o + 6 > b.length || b[o] !== 0xff) return undefined;
  const b1 = b[o + 1]!;
  const b2 = b[o + 2]!;
  if ((b1 & 0xf6) === 0xf0) {
    // ADTS: 12-bit sync, layer 00; frame length in 13 bits across bytes 3-5
    if (((b2 >> 2) & 0x0f) > 12) return undefined;
    const length = ((b[o + 3]! & 0x03) << 11) | (b[o + 4]! << 3) | (b[o + 5]! >> 5);
    return length >= ((b1 & 1) === 1 ? 7 : 9) ? { key: (b1 << 8) | (b2 & 0xfc), length } : undefined;
  }
  if ((b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
  const layer = 4 - ((b1 >> 1) & 3); // 1..3; 4 is reserved
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (version === 1 || layer === 4 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const kbps = (version === 3 ? MPEG1_KBPS : MPEG2_KBPS)[layer - 1]![bitrateIndex - 1]!;
  const rate = MPEG_RATES[rateIndex]! / (version === 3 ? 1 : version === 2 ? 2 : 4);
  const padding = (b2 >> 1) & 1;
  const bitrate = kbps * 1000;
  const length =
    layer === 1
      ? (Math.floor((12 * bitrate) / rate) + padding) * 4
      : Math.floor(((layer === 3 && version !== 3 ? 72 : 144) * bitrate) / rate) + padding;
  return { key: (b1 << 8) | (b2 & 0x0c), length };
}

/** End of the ID3v2 tag(s) at the start of the file (0 without one; some taggers write two). */
async function id3v2End(read: ReadAt): Promise<number> {
  let o = 0;
  for (let tags = 0; tags < 4; tags++) {
    const h = await read(o, 10);
    if (h.length < 10 || h.toString('latin1', 0, 3) !== 'ID3') break;
    const size = ((h[6]! & 0x7f) << 21) | ((h[7]! & 0x7f) << 14) | ((h[8]! & 0x7f) << 7) | (h[9]! & 0x7f);
    o += 10 + size + ((h[5]! & 0x10) !== 0 ? 10 : 0);
  }
  return o;
}

/**
 * True when two consecutive frame headers of one MPEG audio or ADTS stream are found near the start
 * (past any ID3v2 tag). False means "not confirmed": a single-frame file, free-format MPEG or a
 * stream behind unusual junk is then for ffprobe to judge, as every other file music-metadata doubts.
 */
export async function frameSyncConfirmed(read: ReadAt): Promise<boolean> {
  const start = await id3v2End(read);
  for (let step = start; step < start + SEARCH_BYTES; step += STEP_BYTES) {
    // 6 bytes more than the step: a header starting in its last bytes is read whole
    const window = await read(step, STEP_BYTES + 6);
    for (let o = 0; o + 6 <= window.length && o < STEP_BYTES; o++) {
      const first = headerAt(window, o);
      if (!first) continue;
      const nextAt = o + first.length;
      const next = headerAt(nextAt + 6 <= window.length ? window.subarray(nextAt) : await read(step + nextAt, 6), 0);
      if (next && next.key === first.key) return true;
    }
    if (window.length < STEP_BYTES + 6) break; // the end of the file
  }
  return false;
}

/** Containers that are bare frame streams, found by a frame sync and nothing else. */
export function isFrameStream(container: string | undefined): boolean {
  return container !== undefined && /^(MPEG|ADTS)/i.test(container);
}

/** Signatures at the start of the containers the scan reads (past any ID3v2 tag). */
const SIGNATURES = ['fLaC', 'OggS', 'RIFF', 'RF64', 'BW64', 'FORM', 'MAC ', 'wvpk', 'TTA1', 'MPCK', 'MP+', 'DSD ', 'FRM8'].map((s) => Buffer.from(s, 'latin1'));
const EBML = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
const ASF = Buffer.from([0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]);
/** an MP4 file's first box, at offset 4 */
const FTYP = Buffer.from('ftyp', 'latin1');
/** bare frame streams: no signature, only a frame sync that a junk prefix or a free format can hide */
const FRAME_STREAM_EXTENSIONS = new Set(['.mp3', '.mp2', '.mp1', '.aac']);

/**
 * Whether a file music-metadata could not read is worth ffprobe's second opinion (a process of
 * 60-70 ms of CPU): a frame-stream file (.mp3, .aac…) always is, as frameSyncConfirmed says; any
 * other is only when something in it looks like audio of any kind (a container signature at its
 * start, an MP4 `ftyp` box, a confirmed MPEG/ADTS frame sync), so that a mislabelled file is still
 * read and 4 KiB of random bytes named .flac fails at once.
 */
export async function worthProbing(read: ReadAt, extension: string): Promise<boolean> {
  if (FRAME_STREAM_EXTENSIONS.has(extension)) return true;
  const start = await id3v2End(read);
  const head = await read(start, 12);
  const at = (signature: Buffer, offset = 0) => head.length >= offset + signature.length && head.subarray(offset, offset + signature.length).equals(signature);
  if (SIGNATURES.some((s) => at(s)) || at(EBML) || at(ASF) || at(FTYP, 4)) return true;
  return frameSyncConfirmed(read);
}
