// One consistent tag block per file. music-metadata merges every tag block it finds into `common`
// (title from the APEv2 trailer, artists from the ID3v2 header, album from a second ID3v2 block…),
// ranks APEv2 above ID3v2, splits ID3v2.3 artist frames on a bare "/" ("AC/DC" → "AC", "DC") and
// ignores the NUL-padded v2.2 frame ids iTunes 12.1 writes into v2.3 tags ("TP1\0"). So the fields
// a library shows are read here from ONE block, chosen with the precedence ffprobe and mutagen use:
// the container's own tags (Vorbis comments, MP4 atoms, ASF, Matroska), else the first ID3v2 block
// in the file, else APEv2, else RIFF INFO / AIFF chunks, else ID3v1. See docs/scan.md.
import type { IAudioMetadata, ITag } from 'music-metadata';

export interface TagView {
  title?: string;
  /** the artist tag's values as written (display) */
  artist: string[];
  /** the artists to link (a multi-value ARTISTS tag when there is one, else the artist values) */
  artists: string[];
  album?: string;
  /** the album-artist tag's values as written (display) */
  albumArtist: string[];
  /** the album artists to link */
  albumArtists: string[];
  track: { no: number | null; of: number | null };
  disk: { no: number | null; of: number | null };
  year?: number;
  date?: string;
  genre: string[];
  compilation?: boolean;
  mbRecordingId?: string;
  mbTrackId?: string;
  mbAlbumId?: string;
  mbArtistIds: string[];
  mbAlbumArtistIds: string[];
  mbReleaseGroupId?: string;
  rgTrackGain?: number;
  rgTrackPeak?: number;
  rgAlbumGain?: number;
  rgAlbumPeak?: number;
}

const CONTAINER_TYPES = ['vorbis', 'iTunes', 'asf', 'matroska'];
const LATE_TYPES = ['APEv2', 'exif', 'AIFF', 'ID3v1'];

/** The tag type whose block a file's fields come from (undefined: no tags). */
export function winningTagType(native: IAudioMetadata['native']): string | undefined {
  const types = Object.keys(native).filter((t) => native[t]!.length > 0);
  return (
    CONTAINER_TYPES.find((t) => types.includes(t)) ??
    // keys are in parse order: the first ID3v2 block in the file
    types.find((t) => t.startsWith('ID3v2')) ??
    LATE_TYPES.find((t) => types.includes(t))
  );
}

/** Block readers of our own, for the tag families music-metadata merges wrongly. */
export function readOwnBlock(type: string, tags: readonly ITag[], written?: ReadonlyMap<string, string>): TagView | undefined {
  if (type.startsWith('ID3v2')) return readId3v2(tags, type === 'ID3v2.4', written);
  if (type === 'APEv2') return readApe(tags);
  return undefined;
}

// ID3v2.2 frame ids (also written NUL-padded into v2.3 tags by iTunes 12.1) → their v2.3 names
const V22: Record<string, string> = { TT2: 'TIT2', TP1: 'TPE1', TP2: 'TPE2', TAL: 'TALB', TRK: 'TRCK', TPA: 'TPOS', TYE: 'TYER', TCO: 'TCON', TCP: 'TCMP', TXX: 'TXXX', UFI: 'UFID' };

function frameId(id: string): string {
  const [head, ...rest] = id.split(':');
  const clean = head!.replace(/\0+$/, '').toUpperCase();
  const mapped = V22[clean] ?? clean;
  return rest.length > 0 ? `${mapped}:${rest.join(':').toLowerCase()}` : mapped;
}

/**
 * The values of the first frame with this id. music-metadata splits one frame into consecutive
 * entries (NUL-separated values in v2.4, "/" in v2.3); a second block's frame comes later, apart.
 * v2.3/v2.2 pieces are joined back with "/": a bare slash is part of a name ("AC/DC").
 */
function id3Values(runs: ReadonlyMap<string, string[]>, id: string, v24: boolean): string[] {
  // TXXX values are read apart (txxx below): Picard's v2.3 multi-values there are really "/"-separated
  const values = runs.get(id) ?? [];
  return !v24 && values.length > 1 ? [values.join('/')] : values;
}

/** Each frame id's first run of consecutive entries (its first frame), in one pass. */
function firstRuns(tags: readonly { id: string; value: unknown }[]): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  let previous = '';
  for (const { id, value } of tags) {
    const text = typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
    if (!runs.has(id)) runs.set(id, text === undefined ? [] : [text]);
    else if (id === previous && text !== undefined) runs.get(id)!.push(text);
    previous = id;
  }
  return runs;
}

function readId3v2(raw: readonly ITag[], v24: boolean, written?: ReadonlyMap<string, string>): TagView {
  const tags = raw.map((t) => ({ id: frameId(t.id), value: t.value }));
  const runs = firstRuns(tags);
  const asWritten = (id: string) => (written?.has(id) ? [written.get(id)!] : id3Values(runs, id, v24));
  const one = (id: string) => id3Values(runs, id, v24).find((v) => v.trim() !== '');
  // TXXX values: v2.3 multi-values (ARTISTS, MusicBrainz ids) are genuinely "/"-separated by Picard
  const txxx = (desc: string) => tags.filter((t) => t.id === `TXXX:${desc}`).flatMap((t) => (typeof t.value === 'string' ? [t.value] : []));
  const artist = asWritten('TPE1').filter((v) => v.trim() !== '');
  const albumArtist = asWritten('TPE2').filter((v) => v.trim() !== '');
  const ufid = tags.find((t) => t.id === 'UFID' && (t.value as { owner_identifier?: string }).owner_identifier === 'http://musicbrainz.org');
  const ufidValue = ufid ? Buffer.from((ufid.value as { identifier: Uint8Array }).identifier).toString('latin1') : undefined;
  return {
    title: one('TIT2'),
    artist,
    artists: txxx('artists').length > 0 ? txxx('artists') : artist,
    album: one('TALB'),
    albumArtist: albumArtist,
    albumArtists: albumArtist,
    track: numberPair(one('TRCK')),
    disk: numberPair(one('TPOS')),
    ...yearAndDate(one('TDRC') ?? one('TYER') ?? one('TDRL')),
    genre: tags.filter((t) => t.id === 'TCON' && typeof t.value === 'string').map((t) => t.value as string),
    compilation: flag(one('TCMP')),
    mbRecordingId: ufidValue,
    mbTrackId: txxx('musicbrainz release track id')[0],
    mbAlbumId: txxx('musicbrainz album id')[0],
    mbArtistIds: txxx('musicbrainz artist id'),
    mbAlbumArtistIds: txxx('musicbrainz album artist id'),
    mbReleaseGroupId: txxx('musicbrainz release group id')[0],
    ...replayGain(tags),
  };
}

/** Artist frames music-metadata split on "/" in the winning ID3v2.2/2.3 block (worth reading as written). */
export function splitArtistFrames(type: string | undefined, tags: readonly ITag[]): boolean {
  if (type !== 'ID3v2.3' && type !== 'ID3v2.2') return false;
  const ids = tags.map((t) => frameId(t.id));
  return ids.some((id, i) => (id === 'TPE1' || id === 'TPE2') && ids[i + 1] === id);
}

/**
 * TPE1/TPE2 text of the ID3v2.2/2.3 tag at the start of a file, exactly as written: music-metadata
 * splits these frames on "/" and trims the pieces, losing "Their / They're" spacing and "AC/DC".
 */
export function id3ArtistFrames(head: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3' || (head[3] !== 2 && head[3] !== 3)) return out;
  const major = head[3]!;
  const flags = head[5]!;
  const size = ((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f);
  let body = head.subarray(10, 10 + size);
  if (flags & 0x80) body = removeUnsynchronisation(body);
  let at = major === 3 && flags & 0x40 && body.length >= 4 ? 4 + body.readUInt32BE(0) : 0;
  const idLength = major === 2 ? 3 : 4;
  const headerLength = major === 2 ? 6 : 10;
  while (at + headerLength <= body.length) {
    const rawId = body.toString('latin1', at, at + idLength);
    if (!/^[A-Z0-9]{3,4}\0*$/.test(rawId)) break;
    const length = major === 2 ? body.readUIntBE(at + 3, 3) : body.readUInt32BE(at + 4);
    const frameFlags = major === 3 ? body.readUInt16BE(at + 8) : 0;
    const id = frameId(rawId);
    const data = body.subarray(at + headerLength, at + headerLength + length);
    // compressed or encrypted frames (flags 0x80/0x40) are left to music-metadata
    if ((id === 'TPE1' || id === 'TPE2') && !out.has(id) && (frameFlags & 0xc0) === 0 && data.length > 1) out.set(id, decodeText(data));
    at += headerLength + length;
  }
  return out;
}

function removeUnsynchronisation(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    out[n++] = data[i]!;
    if (data[i] === 0xff && data[i + 1] === 0x00) i++;
  }
  return out.subarray(0, n);
}

/** An ID3v2 text frame's first value in its declared encoding. */
function decodeText(data: Buffer): string {
  const encoding = data[0];
  const bytes = data.subarray(1);
  let text: string;
  if (encoding === 1 || encoding === 2) {
    const bigEndian = encoding === 2 || (bytes[0] === 0xfe && bytes[1] === 0xff);
    const body = encoding === 1 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) ? bytes.subarray(2) : bytes;
    const even = Buffer.from(body.subarray(0, body.length - (body.length % 2)));
    text = (bigEndian ? even.swap16() : even).toString('utf16le');
  } else {
    text = bytes.toString(encoding === 3 ? 'utf8' : 'latin1');
  }
  return text.split('\0')[0]!.trim();
}

function readApe(raw: readonly ITag[]): TagView {
  const tags = raw.map((t) => ({ id: t.id.toLowerCase(), value: t.value }));
  // a tag may hold one key twice in different case ("Artist", "ARTIST"): one value each
  const all = (...ids: string[]) => [...new Set(tags.filter((t) => ids.includes(t.id) && typeof t.value === 'string').map((t) => (t.value as string).trim()).filter(Boolean))];
  const one = (...ids: string[]) => all(...ids)[0];
  const artist = all('artist');
  return {
    title: one('title'),
    artist,
    artists: all('artists').length > 0 ? all('artists') : artist,
    album: one('album'),
    albumArtist: all('album artist', 'albumartist'),
    albumArtists: all('album artist', 'albumartist'),
    track: numberPair(one('track', 'tracknumber')),
    disk: numberPair(one('disc', 'discnumber')),
    ...yearAndDate(one('year', 'date')),
    genre: all('genre'),
    compilation: flag(one('compilation')),
    mbRecordingId: one('musicbrainz_trackid'),
    mbTrackId: one('musicbrainz_releasetrackid'),
    mbAlbumId: one('musicbrainz_albumid'),
    mbArtistIds: all('musicbrainz_artistid'),
    mbAlbumArtistIds: all('musicbrainz_albumartistid'),
    mbReleaseGroupId: one('musicbrainz_releasegroupid'),
    ...replayGain(tags),
  };
}

/** Artist and album-artist values as written in the container's own tags (display strings). */
const DISPLAY_KEYS: Record<string, { artist: string[]; albumArtist: string[] }> = {
  vorbis: { artist: ['artist'], albumArtist: ['albumartist', 'album artist'] },
  iTunes: { artist: ['©art'], albumArtist: ['aart'] },
  asf: { artist: ['author'], albumArtist: ['wm/albumartist'] },
  matroska: { artist: ['track:artist'], albumArtist: ['track:album_artist'] },
};

export function displayValues(type: string | undefined, tags: readonly ITag[]): { artist: string[]; albumArtist: string[] } | undefined {
  const keys = type ? DISPLAY_KEYS[type] : undefined;
  if (!keys) return undefined;
  // ASF holds the artist twice (content description and extended attributes): one value each
  const values = (ids: string[]) => [...new Set(tags.filter((t) => ids.includes(t.id.toLowerCase()) && typeof t.value === 'string').map((t) => (t.value as string).trim()).filter(Boolean))];
  return { artist: values(keys.artist), albumArtist: values(keys.albumArtist) };
}

/**
 * ReplayGain from any block: "replaygain_album_gain" as a TXXX description, a Vorbis/APE/ASF key or
 * an iTunes "----" atom, with or without its " dB" unit (music-metadata drops unit-less MP4 values,
 * and never maps ASF or APEv2 album gain).
 */
export function replayGain(tags: readonly { id: string; value: unknown }[]): Pick<TagView, 'rgTrackGain' | 'rgTrackPeak' | 'rgAlbumGain' | 'rgAlbumPeak'> {
  const out: Pick<TagView, 'rgTrackGain' | 'rgTrackPeak' | 'rgAlbumGain' | 'rgAlbumPeak'> = {};
  const fields = { replaygain_track_gain: 'rgTrackGain', replaygain_track_peak: 'rgTrackPeak', replaygain_album_gain: 'rgAlbumGain', replaygain_album_peak: 'rgAlbumPeak' } as const;
  for (const tag of tags) {
    const key = tag.id.toLowerCase().split(':').pop()!;
    const field = fields[key as keyof typeof fields];
    if (!field || out[field] !== undefined) continue;
    const text = typeof tag.value === 'string' ? tag.value : typeof tag.value === 'number' ? String(tag.value) : undefined;
    const n = text === undefined ? NaN : Number(text.trim().replace(/\s*db$/i, '').replace(',', '.'));
    if (Number.isFinite(n)) out[field] = n;
  }
  return out;
}

function numberPair(value: string | undefined): { no: number | null; of: number | null } {
  const [a, b] = (value ?? '').split('/');
  const n = (s: string | undefined) => (s && /^\s*\d+\s*$/.test(s) ? Number(s) : null);
  return { no: n(a), of: n(b) };
}

function yearAndDate(value: string | undefined): { year?: number; date?: string } {
  if (!value) return {};
  const year = value.match(/^\s*(\d{4})/)?.[1];
  return { ...(year ? { year: Number(year) } : {}), date: value.trim() };
}

function flag(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : value.trim() === '1' || value.trim().toLowerCase() === 'true';
}
