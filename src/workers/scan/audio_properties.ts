// Audio properties music-metadata gets wrong or leaves out, read from the few bytes that hold them,
// and the sanity limits every value must pass before it is stored (docs/scan.md).

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

// --- Ogg: duration from the granule position of the audio stream's last page -------------------

interface OggAudio {
  serial: number;
  rate: number;
  channels: number;
  /** samples to drop at the start (Opus pre-skip), in `rate` units */
  preSkip: number;
}

const OGG_TAIL_BYTES = 128 * 1024;

/**
 * Duration of an Ogg file (Vorbis, Opus, FLAC, Speex) at any size: the identification header of
 * the audio stream gives its rate, the last page of that stream its granule position. Two reads
 * (head and tail), never the whole file: music-metadata only finds the duration when it is asked
 * to read every page (`duration: true`), and stops early without it.
 */
export async function oggAudio(read: ReadAt, size: number): Promise<{ duration: number; rate: number; channels: number } | undefined> {
  const head = await read(0, Math.min(size, 64 * 1024));
  const stream = findOggAudio(head);
  if (!stream) return undefined;
  const tailStart = Math.max(0, size - OGG_TAIL_BYTES);
  const tail = size <= head.length ? head : await read(tailStart, size - tailStart);
  let granule: bigint | undefined;
  for (let at = tail.lastIndexOf('OggS'); at >= 0; at = at > 0 ? tail.lastIndexOf('OggS', at - 1) : -1) {
    if (at + 27 > tail.length || tail[at + 4] !== 0) continue;
    if (tail.readUInt32LE(at + 14) !== stream.serial) continue;
    const g = tail.readBigInt64LE(at + 6);
    if (g < 0n) continue; // -1: no packet ends on this page
    granule = g;
    break;
  }
  if (granule === undefined) return undefined;
  const samples = Number(granule) - stream.preSkip;
  if (samples <= 0) return undefined;
  return { duration: samples / stream.rate, rate: stream.rate, channels: stream.channels };
}

/** The first audio stream among the beginning-of-stream pages at the head of an Ogg file. */
function findOggAudio(head: Buffer): OggAudio | undefined {
  let at = 0;
  while (at + 27 <= head.length && head.toString('latin1', at, at + 4) === 'OggS') {
    const headerType = head[at + 5]!;
    const serial = head.readUInt32LE(at + 14);
    const segments = head[at + 26]!;
    let bodyLength = 0;
    for (let i = 0; i < segments; i++) bodyLength += head[at + 27 + i] ?? 0;
    const body = head.subarray(at + 27 + segments, at + 27 + segments + bodyLength);
    if ((headerType & 0x02) === 0) return undefined; // past the BOS pages
    const audio = identify(body, serial);
    if (audio) return audio;
    at += 27 + segments + bodyLength;
  }
  return undefined;
}

function identify(p: Buffer, serial: number): OggAudio | undefined {
  if (p.length >= 16 && p[0] === 1 && p.toString('latin1', 1, 7) === 'vorbis') {
    return { serial, channels: p[11]!, rate: p.readUInt32LE(12), preSkip: 0 };
  }
  if (p.length >= 19 && p.toString('latin1', 0, 8) === 'OpusHead') {
    return { serial, channels: p[9]!, rate: 48000, preSkip: p.readUInt16LE(10) };
  }
  if (p.length >= 40 && p.toString('latin1', 0, 8) === 'Speex   ') {
    return { serial, rate: p.readUInt32LE(36), channels: p.length >= 52 ? p.readUInt32LE(48) : 1, preSkip: 0 };
  }
  if (p.length >= 30 && p[0] === 0x7f && p.toString('latin1', 1, 5) === 'FLAC') {
    // STREAMINFO starts at 17: 20 bits of sample rate at its byte 10, then 3 bits of channels - 1
    const info = 17;
    const rate = (p[info + 10]! << 12) | (p[info + 11]! << 4) | (p[info + 12]! >> 4);
    return { serial, rate, channels: ((p[info + 12]! >> 1) & 0x07) + 1, preSkip: 0 };
  }
  return undefined;
}

// --- ASF / WMA: sample rate and channels from the audio stream's WAVEFORMATEX --------------------

const ASF_HEADER = Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex');
const ASF_STREAM_PROPERTIES = Buffer.from('9107dcb7b7a9cf118ee600c00c205365', 'hex');
const ASF_AUDIO_MEDIA = Buffer.from('409e69f84d5bcf11a8fd00805f5c442b', 'hex');

/**
 * music-metadata reads the ASF codec list but not the stream properties object, so every WMA
 * file has no sample rate and no channel count. They are in the audio stream's WAVEFORMATEX.
 */
export async function asfAudio(read: ReadAt, size: number): Promise<{ rate: number; channels: number; bitsPerSample: number } | undefined> {
  const probe = await read(0, Math.min(size, 30));
  if (probe.length < 30 || !probe.subarray(0, 16).equals(ASF_HEADER)) return undefined;
  const headerSize = Number(probe.readBigUInt64LE(16));
  const head = await read(0, Math.min(size, headerSize, 1024 * 1024));
  let at = 30;
  while (at + 24 <= head.length) {
    const objectSize = Number(head.readBigUInt64LE(at + 16));
    if (objectSize < 24) return undefined;
    if (head.subarray(at, at + 16).equals(ASF_STREAM_PROPERTIES) && head.subarray(at + 24, at + 40).equals(ASF_AUDIO_MEDIA)) {
      const wave = at + 78;
      if (wave + 16 > head.length) return undefined;
      return { channels: head.readUInt16LE(wave + 2), rate: head.readUInt32LE(wave + 4), bitsPerSample: head.readUInt16LE(wave + 14) };
    }
    at += objectSize;
  }
  return undefined;
}

// --- Sanity limits --------------------------------------------------------------------------------

/** Lowest and highest sample rate of any real audio file (telephone speech … DSD1024). */
export const SAMPLE_RATE_LIMITS = [1000, 50_000_000] as const;
export const MAX_CHANNELS = 64;
/** A week: longer "durations" come from a damaged header, not from a recording. */
export const MAX_DURATION_S = 7 * 24 * 3600;

export interface Properties {
  duration?: number;
  sampleRate?: number;
  channels?: number;
  bitrate?: number;
}

/** Why a sample rate or channel count cannot be a real file's (undefined: plausible or absent). */
export function impossibleHeader(p: Properties): string | undefined {
  const problems: string[] = [];
  if (p.sampleRate !== undefined && !(p.sampleRate >= SAMPLE_RATE_LIMITS[0] && p.sampleRate <= SAMPLE_RATE_LIMITS[1])) problems.push(`${p.sampleRate} Hz`);
  if (p.channels !== undefined && !(Number.isInteger(p.channels) && p.channels >= 1 && p.channels <= MAX_CHANNELS)) problems.push(`${p.channels} channels`);
  return problems.length > 0 ? `implausible audio header (${problems.join(', ')}): a damaged file or a tag-only stub` : undefined;
}

/**
 * A duration a file can have: positive, finite, under a week. Not checked against the file size:
 * a truncated copy keeps the length its header declares, and both ffprobe and mutagen report it.
 */
export function plausibleDuration(duration: number | undefined): duration is number {
  return duration !== undefined && Number.isFinite(duration) && duration > 0 && duration <= MAX_DURATION_S;
}

/** A bitrate is kept only when positive and below what 64 channels of 32-bit 768 kHz PCM need. */
export function plausibleBitrate(bitrate: number | undefined): number | undefined {
  return bitrate !== undefined && Number.isFinite(bitrate) && bitrate > 0 && bitrate < 1.6e9 ? bitrate : undefined;
}

// --- MP4 AAC: rate and channels from the AudioSpecificConfig ---------------------------------------

/**
 * music-metadata takes an MP4 audio track's rate and channels from its sample entry, which holds the
 * AAC core's: HE-AAC (SBR) plays at twice that rate ("22,050 Hz" for a 44.1 kHz track), HE-AACv2
 * (PS) in stereo from a mono core, and ffmpeg writes 2 channels there for mono AAC. The esds
 * AudioSpecificConfig says what is decoded. Reads the top-level box headers and the moov box only.
 */
export async function mp4AacConfig(read: ReadAt, size: number): Promise<{ rate: number; channels?: number } | undefined> {
  let at = 0;
  for (let boxes = 0; at + 8 <= size && boxes < 64; boxes++) {
    const header = await read(at, 16);
    if (header.length < 8) return undefined;
    let boxSize = header.readUInt32BE(0);
    const type = header.toString('latin1', 4, 8);
    if (boxSize === 1 && header.length >= 16) boxSize = Number(header.readBigUInt64BE(8));
    else if (boxSize === 0) boxSize = size - at;
    if (boxSize < 8) return undefined;
    if (type === 'moov') {
      const moov = await read(at, Math.min(boxSize, 32 * 1024 * 1024));
      return aacConfigIn(moov);
    }
    at += boxSize;
  }
  return undefined;
}

const SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const CHANNEL_CONFIGURATIONS = [undefined, 1, 2, 3, 4, 5, 6, 8];

/** The first AAC decoder config (object type 0x40, 0x66–0x68) among the esds boxes of a moov box. */
function aacConfigIn(moov: Buffer): { rate: number; channels?: number } | undefined {
  for (let at = moov.indexOf('esds'); at >= 0; at = moov.indexOf('esds', at + 4)) {
    let p = at + 8; // type + version/flags
    const descriptor = (tag: number): number | undefined => {
      if (moov[p] !== tag) return undefined;
      p++;
      let length = 0;
      for (let i = 0; i < 4; i++) {
        const b = moov[p++]!;
        length = (length << 7) | (b & 0x7f);
        if (!(b & 0x80)) break;
      }
      return length;
    };
    if (descriptor(0x03) === undefined) continue;
    const esFlags = moov[p + 2]!;
    p += 3 + (esFlags & 0x80 ? 2 : 0) + (esFlags & 0x20 ? 2 : 0);
    if (esFlags & 0x40) p += 1 + moov[p]!;
    if (descriptor(0x04) === undefined) continue;
    const objectType = moov[p]!;
    if (objectType !== 0x40 && !(objectType >= 0x66 && objectType <= 0x68)) continue;
    p += 13;
    const length = descriptor(0x05);
    if (length === undefined || length < 2) continue;
    return parseAudioSpecificConfig(moov.subarray(p, p + length));
  }
  return undefined;
}

function parseAudioSpecificConfig(asc: Buffer): { rate: number; channels?: number } | undefined {
  let bit = 0;
  const bits = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) v = (v << 1) | (((asc[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1);
    return v;
  };
  const objectType = () => {
    const t = bits(5);
    return t === 31 ? 32 + bits(6) : t;
  };
  const frequency = () => {
    const index = bits(4);
    return index === 15 ? bits(24) : SAMPLING_FREQUENCIES[index];
  };
  const type = objectType();
  let rate = frequency();
  let channels = CHANNEL_CONFIGURATIONS[bits(4)];
  if (type === 5 || type === 29) {
    // explicit SBR (HE-AAC) / PS (HE-AACv2): the extension rate is the output rate
    rate = frequency();
    if (type === 29 && channels === 1) channels = 2;
  }
  return rate ? { rate, ...(channels ? { channels } : {}) } : undefined;
}
