// The two second opinions of the differential test (test/unit/scan-differential.test.ts), read into
// one vocabulary: ffprobe (Debian ffmpeg, one process per file) and mutagen (Debian python3-mutagen,
// one process for all files, test/helpers/mutagen-oracle.py).
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What an oracle says about one file; absent keys mean "not read / not there". */
export interface OracleRecord {
  error?: string;
  /** an audio stream with a sample rate and channels */
  audio: boolean;
  duration?: number;
  sampleRate?: number;
  channels?: number;
  bitrate?: number;
  tags: OracleTags;
}

export interface OracleTags {
  title?: string;
  artist?: string;
  album?: string;
  albumartist?: string;
  track_no?: number;
  tracktotal?: number;
  disc_no?: number;
  disctotal?: number;
  year?: number;
  genres?: string[];
  mb_albumid?: string;
  mb_recordingid?: string;
  rg_track_gain?: number;
  rg_album_gain?: number;
  compilation?: boolean;
  picture?: boolean;
}

const MUTAGEN_SCRIPT = path.join(import.meta.dirname, 'mutagen-oracle.py');

/** Debian's python3 (the one python3-mutagen installs into), else the first on PATH. */
export const PYTHON = '/usr/bin/python3';

export async function mutagenRead(files: readonly string[]): Promise<Map<string, OracleRecord>> {
  const child = spawn(PYTHON, [MUTAGEN_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  child.stdin.end(files.join('\n') + '\n');
  const code = await done;
  if (code !== 0) throw new Error(`mutagen oracle exited with ${code}`);
  const raw = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, MutagenRaw>;
  const out = new Map<string, OracleRecord>();
  for (const file of files) out.set(file, fromMutagen(raw[file] ?? { error: 'not read' }));
  return out;
}

interface MutagenRaw {
  error?: string;
  duration?: number;
  sample_rate?: number;
  channels?: number;
  bitrate?: number;
  tags?: Record<string, unknown>;
}

function fromMutagen(raw: MutagenRaw): OracleRecord {
  if (raw.error) return { error: raw.error, audio: false, tags: {} };
  const t = raw.tags ?? {};
  const first = (key: string) => (Array.isArray(t[key]) ? String((t[key] as unknown[])[0]) : undefined);
  const all = (key: string) => (Array.isArray(t[key]) ? (t[key] as unknown[]).map(String) : undefined);
  const tags: OracleTags = {
    title: first('title'),
    artist: all('artists')?.join('; '),
    album: first('album'),
    albumartist: all('albumartist')?.join('; '),
    track_no: num(t.track_no),
    tracktotal: num(t.tracktotal),
    disc_no: num(t.disc_no),
    disctotal: num(t.disctotal),
    year: yearOf(first('date')),
    genres: all('genres'),
    mb_albumid: first('mb_albumid'),
    mb_recordingid: first('mb_recordingid'),
    rg_track_gain: gain(first('rg_track_gain')),
    rg_album_gain: gain(first('rg_album_gain')),
    compilation: flag(first('compilation')),
    picture: t.picture === true,
  };
  return {
    audio: (raw.sample_rate ?? 0) > 0 && (raw.channels ?? 0) > 0,
    duration: raw.duration,
    sampleRate: raw.sample_rate,
    channels: raw.channels,
    bitrate: raw.bitrate,
    tags,
  };
}

interface FfprobeRaw {
  format?: { duration?: string; bit_rate?: string; tags?: Record<string, string> };
  streams?: { codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number; duration?: string; bit_rate?: string; tags?: Record<string, string>; disposition?: { attached_pic?: number } }[];
}

export async function ffprobeRead(file: string): Promise<OracleRecord> {
  let raw: FfprobeRaw;
  try {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file], { maxBuffer: 64 << 20 });
    raw = JSON.parse(stdout) as FfprobeRaw;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().split('\n').pop();
    return { error: stderr || String(err), audio: false, tags: {} };
  }
  const audio = raw.streams?.find((s) => s.codec_type === 'audio');
  const t: Record<string, string> = {};
  for (const source of [raw.format?.tags, audio?.tags]) {
    for (const [k, v] of Object.entries(source ?? {})) if (!(k.toLowerCase() in t)) t[k.toLowerCase()] = v;
  }
  const pick = (...keys: string[]) => keys.map((k) => t[k]).find((v) => v !== undefined && v !== '');
  const [trackNo, trackOf] = pair(pick('track', 'tracknumber'));
  const [discNo, discOf] = pair(pick('disc', 'discnumber'));
  const sampleRate = num(audio?.sample_rate);
  const channels = num(audio?.channels);
  const duration = num(raw.format?.duration) ?? num(audio?.duration);
  return {
    audio: audio !== undefined && (sampleRate ?? 0) > 0 && (channels ?? 0) > 0,
    duration,
    sampleRate,
    channels,
    bitrate: num(audio?.bit_rate) ?? num(raw.format?.bit_rate),
    tags: {
      title: pick('title'),
      artist: pick('artist'),
      album: pick('album'),
      albumartist: pick('album_artist', 'albumartist', 'album artist'),
      track_no: trackNo,
      tracktotal: num(pick('tracktotal', 'totaltracks')) ?? trackOf,
      disc_no: discNo,
      disctotal: num(pick('disctotal', 'totaldiscs')) ?? discOf,
      year: yearOf(pick('date', 'year')),
      genres: pick('genre')?.split(';'),
      mb_albumid: pick('musicbrainz_albumid', 'musicbrainz album id'),
      mb_recordingid: pick('musicbrainz_trackid', 'musicbrainz track id'),
      rg_track_gain: gain(pick('replaygain_track_gain')),
      rg_album_gain: gain(pick('replaygain_album_gain')),
      compilation: flag(pick('compilation')),
      picture: raw.streams?.some((s) => s.disposition?.attached_pic === 1) ?? false,
    },
  };
}

function num(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function pair(value: string | undefined): [number | undefined, number | undefined] {
  if (value === undefined) return [undefined, undefined];
  const [a, b] = value.split('/');
  return [num(a?.trim()), num(b?.trim())];
}

export function yearOf(value: string | undefined): number | undefined {
  const m = value?.match(/\b(\d{4})\b/);
  return m ? Number(m[1]) : undefined;
}

function gain(value: string | undefined): number | undefined {
  return num(value?.replace(/\s*dB\s*$/i, ''));
}

function flag(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : value === '1' || value.toLowerCase() === 'true';
}
