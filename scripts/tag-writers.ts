// Minimal tag writers for the fixture generator: ID3v2.4 for MP3 and Vorbis comments + PICTURE
// blocks for FLAC, prepended to audio that Debian's ffmpeg encoded once. Writing tags here instead
// of running ffmpeg per file makes a 20,000-file library take seconds instead of many minutes.

export interface FixtureTags {
  title?: string;
  artists?: string[];
  albumArtist?: string;
  album?: string;
  genres?: string[];
  track?: [number, number];
  disc?: [number, number];
  year?: number;
  compilation?: boolean;
  mbAlbumId?: string;
  mbRecordingId?: string;
  extra?: Record<string, string>;
  cover?: { mime: string; data: Buffer };
}

function syncsafe(n: number): Buffer {
  return Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);
}

function id3Frame(id: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id, 'latin1'), syncsafe(body.length), Buffer.from([0, 0]), body]);
}

/** UTF-8 text frame; several values are NUL-separated, as ID3v2.4 multi-value frames are. */
function textFrame(id: string, values: readonly string[]): Buffer {
  return id3Frame(id, Buffer.concat([Buffer.from([3]), Buffer.from(values.join('\0'), 'utf8')]));
}

function txxxFrame(description: string, value: string): Buffer {
  return id3Frame('TXXX', Buffer.concat([Buffer.from([3]), Buffer.from(`${description}\0${value}`, 'utf8')]));
}

/** The MPEG audio of an MP3 file, without any ID3v2 tag in front of it. */
export function stripId3(file: Buffer): Buffer {
  if (file.length < 10 || file.toString('latin1', 0, 3) !== 'ID3') return file;
  const size = (file[6]! << 21) | (file[7]! << 14) | (file[8]! << 7) | file[9]!;
  return file.subarray(10 + size);
}

export function mp3WithTags(audio: Buffer, tags: FixtureTags): Buffer {
  const frames: Buffer[] = [];
  if (tags.title) frames.push(textFrame('TIT2', [tags.title]));
  if (tags.artists?.length) frames.push(textFrame('TPE1', tags.artists));
  if (tags.albumArtist) frames.push(textFrame('TPE2', [tags.albumArtist]));
  if (tags.album) frames.push(textFrame('TALB', [tags.album]));
  if (tags.genres?.length) frames.push(textFrame('TCON', tags.genres));
  if (tags.track) frames.push(textFrame('TRCK', [`${tags.track[0]}/${tags.track[1]}`]));
  if (tags.disc) frames.push(textFrame('TPOS', [`${tags.disc[0]}/${tags.disc[1]}`]));
  if (tags.year) frames.push(textFrame('TDRC', [String(tags.year)]));
  if (tags.compilation) frames.push(textFrame('TCMP', ['1']));
  if (tags.mbAlbumId) frames.push(txxxFrame('MusicBrainz Album Id', tags.mbAlbumId));
  if (tags.mbRecordingId) frames.push(id3Frame('UFID', Buffer.concat([Buffer.from('http://musicbrainz.org\0', 'latin1'), Buffer.from(tags.mbRecordingId, 'latin1')])));
  for (const [k, v] of Object.entries(tags.extra ?? {})) frames.push(txxxFrame(k, v));
  if (tags.cover) {
    const body = Buffer.concat([Buffer.from([0]), Buffer.from(`${tags.cover.mime}\0`, 'latin1'), Buffer.from([3]), Buffer.from('\0', 'latin1'), tags.cover.data]);
    frames.push(id3Frame('APIC', body));
  }
  const content = Buffer.concat(frames);
  const header = Buffer.concat([Buffer.from('ID3', 'latin1'), Buffer.from([4, 0, 0]), syncsafe(content.length)]);
  return Buffer.concat([header, content, audio]);
}

interface FlacParts {
  streamInfo: Buffer[];
  frames: Buffer;
}

/** Splits a FLAC file into its STREAMINFO/SEEKTABLE blocks (kept) and its audio frames. */
export function splitFlac(file: Buffer): FlacParts {
  if (file.toString('latin1', 0, 4) !== 'fLaC') throw new Error('not a FLAC file');
  const keep: Buffer[] = [];
  let at = 4;
  for (;;) {
    const header = file[at]!;
    const type = header & 0x7f;
    const length = file.readUIntBE(at + 1, 3);
    if (type === 0 || type === 3) keep.push(file.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    if (header & 0x80) break;
  }
  return { streamInfo: keep, frames: file.subarray(at) };
}

function flacBlock(type: number, body: Buffer, last: boolean): Buffer {
  const header = Buffer.alloc(4);
  header[0] = (last ? 0x80 : 0) | type;
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

export function flacWithTags(parts: FlacParts, tags: FixtureTags): Buffer {
  const comments: string[] = [];
  if (tags.title) comments.push(`TITLE=${tags.title}`);
  for (const a of tags.artists ?? []) comments.push(`ARTIST=${a}`);
  if (tags.albumArtist) comments.push(`ALBUMARTIST=${tags.albumArtist}`);
  if (tags.album) comments.push(`ALBUM=${tags.album}`);
  for (const g of tags.genres ?? []) comments.push(`GENRE=${g}`);
  if (tags.track) comments.push(`TRACKNUMBER=${tags.track[0]}`, `TRACKTOTAL=${tags.track[1]}`);
  if (tags.disc) comments.push(`DISCNUMBER=${tags.disc[0]}`, `DISCTOTAL=${tags.disc[1]}`);
  if (tags.year) comments.push(`DATE=${tags.year}`);
  if (tags.compilation) comments.push('COMPILATION=1');
  if (tags.mbAlbumId) comments.push(`MUSICBRAINZ_ALBUMID=${tags.mbAlbumId}`);
  if (tags.mbRecordingId) comments.push(`MUSICBRAINZ_TRACKID=${tags.mbRecordingId}`);
  for (const [k, v] of Object.entries(tags.extra ?? {})) comments.push(`${k.toUpperCase()}=${v}`);
  const vendor = Buffer.from('soniquebay-fixtures', 'utf8');
  const comment: Buffer[] = [le32(vendor.length), vendor, le32(comments.length)];
  for (const c of comments) {
    const b = Buffer.from(c, 'utf8');
    comment.push(le32(b.length), b);
  }
  const blocks: [number, Buffer][] = [[4, Buffer.concat(comment)]];
  if (tags.cover) {
    const mime = Buffer.from(tags.cover.mime, 'latin1');
    blocks.push([6, Buffer.concat([be32(3), be32(mime.length), mime, be32(0), be32(0), be32(0), be32(0), be32(0), be32(tags.cover.data.length), tags.cover.data])]);
  }
  const all: [number, Buffer][] = [...parts.streamInfo.map((b, i) => [i === 0 ? 0 : 3, b] as [number, Buffer]), ...blocks];
  return Buffer.concat([Buffer.from('fLaC', 'latin1'), ...all.map(([type, body], i) => flacBlock(type, body, i === all.length - 1)), parts.frames]);
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
