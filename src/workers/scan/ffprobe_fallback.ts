// Second reader for the few files music-metadata cannot place: it throws on them (an MP4 atom it
// misjudges, a Matroska file without a duration), finds no duration, or reads an impossible header.
// When Debian's ffprobe is installed (it is wherever analysis uses ffmpeg) and decodes an audio stream
// in the file, the file is a track; its tags come from ffprobe when music-metadata had none.
import { execFile } from 'node:child_process';

export interface ProbedAudio {
  codec: string;
  format: string;
  duration?: number;
  sampleRate: number;
  channels: number;
  bitrate?: number;
  bitDepth?: number;
  /** format and stream tags, keys lower-cased */
  tags: Record<string, string>;
}

const PROBE_TIMEOUT_MS = 20_000;
let available: Promise<boolean> | undefined;

/** Whether ffprobe runs here (asked once per process, without blocking). */
export function ffprobeAvailable(): Promise<boolean> {
  available ??= new Promise((resolve) => {
    execFile('ffprobe', ['-version'], { timeout: PROBE_TIMEOUT_MS }, (err) => resolve(!err));
  });
  return available;
}

interface Raw {
  format?: { format_name?: string; duration?: string; bit_rate?: string; tags?: Record<string, string> };
  streams?: { codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number; duration?: string; bit_rate?: string; bits_per_raw_sample?: string; tags?: Record<string, string> }[];
}

/** The file's first audio stream as ffprobe reads it; undefined when there is none (or no ffprobe). */
export async function probeAudio(file: string): Promise<ProbedAudio | undefined> {
  if (!(await ffprobeAvailable())) return undefined;
  const raw = await new Promise<Raw | undefined>((resolve) => {
    execFile('ffprobe', ['-v', 'quiet', '-show_format', '-show_streams', '-of', 'json', file], { timeout: PROBE_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(JSON.parse(stdout) as Raw);
      } catch {
        resolve(undefined);
      }
    });
  });
  const stream = raw?.streams?.find((s) => s.codec_type === 'audio');
  const sampleRate = Number(stream?.sample_rate);
  const channels = Number(stream?.channels);
  if (!raw || !stream?.codec_name || !(sampleRate > 0) || !(channels > 0)) return undefined;
  const tags: Record<string, string> = {};
  for (const source of [raw.format?.tags, stream.tags]) {
    for (const [k, v] of Object.entries(source ?? {})) tags[k.toLowerCase()] ??= v;
  }
  const number = (v: string | undefined) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : undefined);
  return {
    codec: stream.codec_name,
    format: raw.format?.format_name ?? 'unknown',
    duration: number(raw.format?.duration) ?? number(stream.duration),
    sampleRate,
    channels,
    bitrate: number(stream.bit_rate) ?? number(raw.format?.bit_rate),
    bitDepth: number(stream.bits_per_raw_sample),
    tags,
  };
}
