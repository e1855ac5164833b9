// What the extract stage hands to the batch stage for one file: tags and audio properties, never
// picture bytes (only whether a picture exists and its hash).
import { z } from 'zod';

const text = z.string().max(10_000).nullable();
const num = z.number().finite().nullable();
const int = z.number().int().nullable();

export const extractedTrackSchema = z
  .object({
    path: z.string().min(1),
    size: z.number().int().min(0),
    mtimeMs: z.number().int(),
    format: text,
    codec: text,
    lossless: z.boolean().nullable(),
    duration: num,
    bitrate: int,
    sampleRate: int,
    channels: int,
    bitDepth: int,
    title: z.string().min(1),
    artists: z.array(z.string().min(1)).min(1),
    artistDisplay: z.string().min(1),
    albumArtists: z.array(z.string().min(1)),
    album: z.string().min(1),
    discNo: int,
    discTotal: int,
    trackNo: int,
    trackTotal: int,
    year: int,
    date: text,
    originalDate: text,
    genres: z.array(z.string().min(1)),
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
  })
  .strict();

export type ExtractedTrack = z.infer<typeof extractedTrackSchema>;

export const fileErrorSchema = z
  .object({
    path: z.string().min(1),
    size: z.number().int().min(0).nullable(),
    mtimeMs: z.number().int().nullable(),
    stage: z.string().min(1),
    message: z.string().min(1),
    /**
     * the failure may clear up by itself (file vanished between stages, I/O error, timeout, permission):
     * the file keeps its track, and its folder stays to be compared again so the next scan retries it
     */
    transient: z.boolean().optional(),
  })
  .strict();

export type FileError = z.infer<typeof fileErrorSchema>;
