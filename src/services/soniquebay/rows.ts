// How our library's rows read in SoniqueBay's schema (contract §3/§4), as pure functions: the sink
// (sink.ts) writes what these return, and hashes it to write nothing when nothing changed.
import { createHash } from 'node:crypto';
import path from 'node:path';

/** tracks.file_size is int4 in SoniqueBay: a larger file gets NULL rather than an overflow error */
export const INT4_MAX = 2_147_483_647;

export function int4OrNull(value: number | null | undefined): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const n = Math.trunc(value);
  return n >= -INT4_MAX - 1 && n <= INT4_MAX ? n : null;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.wav': 'audio/x-wav',
  '.m4a': 'audio/mp4',
  '.mp4': 'audio/mp4',
  '.aac': 'audio/mp4',
  '.alac': 'audio/mp4',
};

/** tracks.file_type: the MIME type by extension, as upstream wrote it, else `unknown` */
export function fileTypeOf(file: string): string {
  return MIME_BY_EXTENSION[path.extname(file).toLowerCase()] ?? 'unknown';
}

/** SoniqueBay keeps MBIDs NULL when absent, never empty (tracks.musicbrainz_id is unique) */
export function textOrNull(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  return text === '' ? null : text;
}

/** albums.release_year: a 4-digit year as text */
export function releaseYear(year: number | null): string | null {
  return year !== null && year > 0 && year < 10_000 ? String(year).padStart(4, '0') : null;
}

/** covers.mime_type must match ^image/[a-z]+$ or the API's responses fail validation */
export function coverMime(mime: string): string | null {
  const m = mime.toLowerCase() === 'image/jpg' ? 'image/jpeg' : mime.toLowerCase();
  return /^image\/[a-z]+$/.test(m) ? m : null;
}

const PITCH = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const FLAT_TO_SHARP: Record<string, string> = { DB: 'C#', EB: 'D#', GB: 'F#', AB: 'G#', BB: 'A#', CB: 'B', FB: 'E', 'E#': 'F', 'B#': 'C' };

/** A key as track_audio_features wants it: pitch class with sharps (`C#`) and `major`/`minor`. */
export function keyOf(raw: string | null, scale?: string | null): { key: string; scale: string } | null {
  const m = raw ? /^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(.*)$/.exec(raw) : null;
  if (!m) return null;
  const accidental = m[2] === '#' || m[2] === '♯' ? '#' : m[2] ? 'B' : '';
  const pitch = FLAT_TO_SHARP[`${m[1]!.toUpperCase()}${accidental}`] ?? `${m[1]!.toUpperCase()}${accidental}`;
  const rest = m[3]!.trim().toLowerCase();
  const written = rest === 'm' || rest.startsWith('min') ? 'minor' : rest === '' || rest.startsWith('maj') ? 'major' : null;
  if (!PITCH.includes(pitch) || written === null) return null;
  return { key: pitch, scale: scale === 'minor' || scale === 'major' ? scale : written };
}

/**
 * BPM and key where no analysis ran: the file's own tags (TBPM / initial key), else the
 * AcousticBrainz values a tagger stored in it (`ab:lo:rhythm:bpm`, `ab:lo:tonal:key_key` + `key_scale`).
 */
export function tagFeatures(bpmTag: number | null, keyTag: string | null, abTags: string | null): { bpm: number | null; key: string | null } {
  let ab: Record<string, string> = {};
  try {
    ab = abTags ? (JSON.parse(abTags) as Record<string, string>) : {};
  } catch {
    ab = {};
  }
  const abBpm = Number(ab['ab:lo:rhythm:bpm']);
  const abKey = ab['ab:lo:tonal:key_key'] ? `${ab['ab:lo:tonal:key_key']} ${ab['ab:lo:tonal:key_scale'] ?? 'major'}` : null;
  return { bpm: bpmTag ?? (Number.isFinite(abBpm) && abBpm > 0 ? abBpm : null), key: keyTag ?? abKey };
}

/** Camelot wheel position (`8B` = C major, `5A` = C minor) */
export function camelotOf(key: string, scale: string | null): string | null {
  const at = PITCH.indexOf(key);
  if (at < 0 || !scale) return null;
  const major = [8, 3, 10, 5, 12, 7, 2, 9, 4, 11, 6, 1];
  const minor = [5, 12, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10];
  return scale === 'minor' ? `${minor[at]}A` : `${major[at]}B`;
}

/** a stable fingerprint of what was written for one entity */
export function hashOf(value: unknown): string {
  return createHash('sha1').update(JSON.stringify(value)).digest('base64url');
}
