// What the extract stage hands to the batch stage for one file: tags and audio properties, never
// picture bytes (only whether a picture exists and its hash).
import { z } from '../../utils/schema.js';

const text = z.nullable(z.string().check(z.maxLength(10_000)));
const num = z.nullable(z.number()); // finite: zod's numbers refuse Infinity and NaN
const int = z.nullable(z.int());
const nonEmpty = z.string().check(z.minLength(1));

export const extractedTrackSchema = z.strictObject({
  path: nonEmpty,
  size: z.int().check(z.gte(0)),
  mtimeMs: z.int(),
  format: text,
  codec: text,
  lossless: z.nullable(z.boolean()),
  duration: num,
  bitrate: int,
  sampleRate: int,
  channels: int,
  bitDepth: int,
  title: nonEmpty,
  artists: z.array(nonEmpty).check(z.minLength(1)),
  artistDisplay: nonEmpty,
  albumArtists: z.array(nonEmpty),
  /** the album-artist tag as written ("Beth Hart, Joe Bonamassa"); absent in payloads queued by older versions */
  albumArtistDisplay: z.optional(text),
  album: nonEmpty,
  discNo: int,
  discTotal: int,
  trackNo: int,
  trackTotal: int,
  year: int,
  date: text,
  originalDate: text,
  genres: z.array(nonEmpty),
  composer: text,
  label: text,
  isrc: text,
  mbTrackId: text,
  mbRecordingId: text,
  mbAlbumId: text,
  mbArtistIds: z.array(z.string()),
  mbAlbumArtistIds: z.array(z.string()),
  mbReleaseGroupId: text,
  compilation: z.boolean(),
  rgTrackGain: num,
  rgTrackPeak: num,
  rgAlbumGain: num,
  rgAlbumPeak: num,
  hasLyrics: z.boolean(),
  pictureHash: text,
  bpm: num,
  key: text,
  abTags: z.record(z.string(), z.string()),
  /** tag fields that were missing and got their documented fallback */
  fallbacks: z.array(z.string()),
});

export type ExtractedTrack = z.infer<typeof extractedTrackSchema>;

export const fileErrorSchema = z.strictObject({
  path: nonEmpty,
  size: z.nullable(z.int().check(z.gte(0))),
  mtimeMs: z.nullable(z.int()),
  stage: nonEmpty,
  message: nonEmpty,
  /**
   * the failure may clear up by itself (file vanished between stages, I/O error, timeout, permission):
   * the file keeps its track, and its folder stays to be compared again so the next scan retries it
   */
  transient: z.optional(z.boolean()),
});

export type FileError = z.infer<typeof fileErrorSchema>;
