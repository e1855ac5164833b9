// Recognising the stream from the file's first bytes (not its name): FLAC, Ogg (Vorbis, Opus or
// FLAC inside), WAV, MPEG audio.
import { DecodeError } from '../decode.js';

export type StreamKind = 'flac' | 'vorbis' | 'opus' | 'mpeg' | 'wav';

const FORMAT_NAMES: Record<string, string> = {
  '.mp3': 'MP3',
  '.mp2': 'MP2',
  '.flac': 'FLAC',
  '.ogg': 'Ogg',
  '.oga': 'Ogg',
  '.opus': 'Opus',
  '.wav': 'WAV',
};

/** bytes taken by ID3v2 tags at the start of the data (0 when there is none) */
export function id3v2Length(data: Uint8Array): number {
  if (data.length < 10 || data[0] !== 0x49 || data[1] !== 0x44 || data[2] !== 0x33) return 0; // "ID3"
  const size = ((data[6]! & 0x7f) << 21) | ((data[7]! & 0x7f) << 14) | ((data[8]! & 0x7f) << 7) | (data[9]! & 0x7f);
  const footer = data[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

export function ascii(data: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = offset; i < offset + length && i < data.length; i++) text += String.fromCharCode(data[i]!);
  return text;
}

/** what the stream holds, from its first bytes (the extension only names it in errors) */
export function recognise(head: Uint8Array, ext: string): StreamKind {
  const expected = FORMAT_NAMES[ext] ?? ext;
  const magic = ascii(head, 0, 4);
  if (magic === 'fLaC') return 'flac';
  if (magic === 'OggS') return oggCodec(head);
  if ((magic === 'RIFF' || magic === 'RF64') && ascii(head, 8, 4) === 'WAVE') return 'wav';
  if (findMpegStream(head) !== null) return 'mpeg';
  if (head.length === 0) throw new DecodeError('the file is empty');
  throw new DecodeError(`the file is not a valid ${expected} file: no ${expected} stream found in its first bytes`);
}

/** the codec of an Ogg stream, from the first packet of its first page */
function oggCodec(head: Uint8Array): StreamKind {
  const segments = head[26] ?? 0;
  const packet = 27 + segments;
  const id = ascii(head, packet, 8);
  if (id.startsWith('\x01vorbis')) return 'vorbis';
  if (id === 'OpusHead') return 'opus';
  if (id.startsWith('\x7fFLAC')) return 'flac';
  const known: Record<string, string> = { 'Speex   ': 'Speex', '\x80theora': 'Theora video', fishead: 'a Skeleton track', '\x80kate\0\0\0': 'Kate' };
  const name = Object.entries(known).find(([prefix]) => id.startsWith(prefix))?.[1];
  if (name) throw new DecodeError(`an Ogg stream starting with ${name} cannot be decoded without ffmpeg (apt-get install ffmpeg): the WASM decoders read Vorbis, Opus and FLAC in Ogg`);
  throw new DecodeError('the file is not a valid Ogg file: its first page holds no Vorbis, Opus or FLAC header');
}

interface MpegHeader {
  length: number;
  sampleRate: number;
  version: number;
  layer: number;
  mono: boolean;
}

// kbit/s, by [MPEG-1 | MPEG-2/2.5][layer I, II, III]; index 0 (free format) and 15 are refused
const BITRATES = [
  [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
];

function mpegHeader(data: Uint8Array, at: number): MpegHeader | null {
  if (at + 4 > data.length || data[at] !== 0xff || (data[at + 1]! & 0xe0) !== 0xe0) return null;
  const b1 = data[at + 1]!;
  const b2 = data[at + 2]!;
  const versionBits = (b1 >> 3) & 3; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
  const layerBits = (b1 >> 1) & 3; // 1: III, 2: II, 3: I
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layer = 4 - layerBits;
  const rate = [44_100, 48_000, 32_000][rateIndex]! / (versionBits === 3 ? 1 : versionBits === 2 ? 2 : 4);
  const kbps = BITRATES[versionBits === 3 ? 0 : 1]![layer - 1]![bitrateIndex]!;
  const padding = (b2 >> 1) & 1;
  let length: number;
  if (layer === 1) length = (Math.floor((12_000 * kbps) / rate) + padding) * 4;
  else if (layer === 3 && versionBits !== 3) length = Math.floor((72_000 * kbps) / rate) + padding;
  else length = Math.floor((144_000 * kbps) / rate) + padding;
  return { length, sampleRate: rate, version: versionBits, layer, mono: data[at + 3]! >> 6 === 3 };
}

/** the first of three consecutive, consistent MPEG audio frame headers (a lone sync is too weak) */
export function findMpegStream(data: Uint8Array): MpegHeader | null {
  for (let at = 0; at + 4 <= data.length; at++) {
    const first = mpegHeader(data, at);
    if (!first) continue;
    let next = at + first.length;
    let ok = true;
    for (let n = 0; n < 2 && ok; n++) {
      const frame = mpegHeader(data, next);
      ok = frame !== null && frame.version === first.version && frame.layer === first.layer && frame.sampleRate === first.sampleRate;
      if (frame) next += frame.length;
    }
    if (ok) return first;
  }
  return null;
}

