import type { Generated, Kysely } from 'kysely';

// The library schema as Kysely sees it; created by src/db/migrations/ on SQLite and PostgreSQL.
// Times are epoch milliseconds; booleans are 0/1 integers (the same on both databases).

export interface LibraryRootTable {
  id: Generated<number>;
  path: string;
  added_at: number;
  /** the device (st_dev) the root was last scanned on: another one means it is not mounted */
  device: string | null;
}

export interface ScanTable {
  id: string;
  root_id: number;
  root_path: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  full: number;
  walk_done: number;
  cancel_requested: number;
  discovered: number;
  unchanged: number;
  queued: number;
  extracted: number;
  inserted: number;
  updated: number;
  moved: number;
  removed: number;
  failed: number;
  batches_total: number;
  batches_done: number;
  started_at: number;
  updated_at: number;
  finished_at: number | null;
  last_error: string | null;
  /** files skipped as not audio, by extension, JSON ({".mid": 30}); null before the walk is done */
  skipped: string | null;
}

export interface ScanBatchTable {
  scan_id: string;
  batch_no: number;
  done_at: number;
}

export interface FolderTable {
  id: Generated<number>;
  root_id: number;
  path: string;
  /** fingerprint of the folder when its files were last all in the database */
  fingerprint: string | null;
  /** fingerprint seen by the scan still running; becomes `fingerprint` when that scan completes */
  pending_fingerprint: string | null;
  pending_scan_id: string | null;
  last_seen_scan_id: string | null;
}

export interface ScanErrorTable {
  id: Generated<number>;
  path: string;
  root_id: number | null;
  folder: string;
  scan_id: string | null;
  stage: string;
  message: string;
  file_size: number | null;
  mtime_ms: number | null;
  created_at: number;
}

export interface ArtistTable {
  id: Generated<number>;
  name: string;
  /** case- and accent-folded name: the dedupe key */
  name_key: string;
  mbid: string | null;
  created_at: number;
  updated_at: number;
}

export interface AlbumTable {
  id: Generated<number>;
  title: string;
  /** `mbid:<release id>` or `title:<folded title>|<album artist id>`: the dedupe key */
  album_key: string;
  album_artist_id: number;
  mbid: string | null;
  release_group_mbid: string | null;
  year: number | null;
  compilation: number;
  created_at: number;
  updated_at: number;
}

export interface GenreTable {
  id: Generated<number>;
  name: string;
  name_key: string;
}

export interface TagTable {
  id: Generated<number>;
  kind: string;
  name: string;
  name_key: string;
}

export interface TrackTable {
  id: Generated<number>;
  path: string;
  root_id: number;
  folder: string;
  file_size: number;
  mtime_ms: number;
  /** MusicBrainz recording id, else a hash of tags + duration + size: finds a moved file */
  identity: string;
  format: string | null;
  codec: string | null;
  lossless: number | null;
  duration: number | null;
  bitrate: number | null;
  sample_rate: number | null;
  channels: number | null;
  bit_depth: number | null;
  title: string;
  artist_display: string;
  album_artist_display: string | null;
  album_id: number | null;
  artist_id: number;
  disc_no: number | null;
  disc_total: number | null;
  track_no: number | null;
  track_total: number | null;
  year: number | null;
  date: string | null;
  original_date: string | null;
  composer: string | null;
  label: string | null;
  isrc: string | null;
  mb_track_id: string | null;
  mb_recording_id: string | null;
  mb_album_id: string | null;
  mb_artist_id: string | null;
  mb_album_artist_id: string | null;
  mb_release_group_id: string | null;
  compilation: number;
  rg_track_gain: number | null;
  rg_track_peak: number | null;
  rg_album_gain: number | null;
  rg_album_peak: number | null;
  has_lyrics: number;
  has_picture: number;
  picture_hash: string | null;
  bpm_tag: number | null;
  key_tag: string | null;
  /** raw AcousticBrainz-style `ab:*` tags as JSON, for the analysis stage */
  ab_tags: string | null;
  /** fields filled by a documented fallback because the tag was missing, as JSON */
  fallbacks: string | null;
  /** set when a scan found the file gone; the track is removed when that scan ends (unless it moved) */
  missing_scan_id: string | null;
  /** when the file was found gone and the track kept as missing (hidden, purged after a grace period); NULL = present */
  missing_since: number | null;
  last_scan_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface TrackArtistTable {
  track_id: number;
  artist_id: number;
  position: number;
}

export interface TrackGenreTable {
  track_id: number;
  genre_id: number;
}

export interface AlbumGenreTable {
  album_id: number;
  genre_id: number;
}

export interface ArtistGenreTable {
  artist_id: number;
  genre_id: number;
}

export interface TrackTagTable {
  track_id: number;
  tag_id: number;
  source: string;
  weight: number | null;
}

export interface ImageTable {
  /** sha256 of the original bytes: the same art is stored once */
  hash: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  created_at: number;
  /** when its display sizes were rendered (deferred.render_images, migration 0009); null: not yet */
  rendered_at: number | null;
}

export interface CoverTable {
  id: Generated<number>;
  entity_type: 'track' | 'album' | 'artist';
  entity_id: number;
  source: string;
  hash: string;
  mime: string;
  width: number | null;
  height: number | null;
  created_at: number;
}

export interface TrackAnalysisTable {
  track_id: number;
  /** ANALYSIS_VERSION of the code that computed the row: a new version re-analyses */
  version: number;
  decoder: string;
  seconds_analyzed: number;
  analyzed_at: number;
  bpm: number | null;
  bpm_confidence: number | null;
  /** the other metrical level when it is nearly as likely as `bpm` (migration 0008), else null */
  bpm_alternative: number | null;
  key: string | null;
  scale: string | null;
  key_confidence: number | null;
  camelot: string | null;
  lufs: number | null;
  sample_peak: number | null;
  true_peak: number | null;
  rg_track_gain: number | null;
  rg_album_gain: number | null;
  /** 400 ms blocks that passed the loudness gates: the weight of this track in its album's loudness */
  gated_blocks: number | null;
  energy: number | null;
  danceability: number | null;
  /** spectral/MFCC/chroma means and variances, as JSON: the numeric summary fed to vectors */
  features: string | null;
}

export interface WorkStateTable {
  entity_type: 'track' | 'album' | 'artist';
  entity_id: number;
  stage: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  updated_at: number;
}

export interface VectorModelTable {
  version: Generated<number>;
  /** 'building': vectors being computed; 'active': serves queries; 'retired': replaced (its vectors deleted) */
  status: 'building' | 'active' | 'retired' | 'failed';
  dimension: number;
  reason: string;
  /** the fitted model (FeatureModel params) as JSON */
  params: string;
  track_count: number;
  tag_signature: string;
  training_ms: number;
  created_at: number;
  activated_at: number | null;
}

export interface TrackVectorTable {
  track_id: number;
  model_version: number;
  /** float32 little-endian, `dimension` values, L2-normalised */
  vector: Uint8Array;
  updated_at: number;
}

/** which SoniqueBay row each of our entities became (the SoniqueBay sink's id map) */
export interface SoniqueBayIdTable {
  entity_type: 'artist' | 'album' | 'track' | 'genre' | 'genre_tag' | 'mood_tag';
  our_id: number;
  sb_id: number;
  /** hash of what was last written there: an unchanged entity is not written again */
  hash: string | null;
  synced_at: number;
}

export interface SoniqueBaySyncTable {
  key: string;
  value: number;
}

export interface ArtistLastfmTable {
  artist_id: number;
  url: string | null;
  listeners: number | null;
  playcount: number | null;
  /** JSON array of tag names */
  tags: string | null;
  bio: string | null;
  mbid: string | null;
  info_fetched_at: number | null;
  similar_fetched_at: number | null;
}

export interface ArtistSimilarTable {
  artist_id: number;
  name_key: string;
  name: string;
  mbid: string | null;
  /** Last.fm's match, 0–1 */
  weight: number;
}

export interface Database {
  library_roots: LibraryRootTable;
  scans: ScanTable;
  scan_batches: ScanBatchTable;
  folders: FolderTable;
  scan_errors: ScanErrorTable;
  artists: ArtistTable;
  albums: AlbumTable;
  genres: GenreTable;
  tags: TagTable;
  tracks: TrackTable;
  track_artists: TrackArtistTable;
  track_genres: TrackGenreTable;
  album_genres: AlbumGenreTable;
  artist_genres: ArtistGenreTable;
  track_tags: TrackTagTable;
  covers: CoverTable;
  images: ImageTable;
  work_state: WorkStateTable;
  track_analysis: TrackAnalysisTable;
  vector_models: VectorModelTable;
  track_vectors: TrackVectorTable;
  soniquebay_ids: SoniqueBayIdTable;
  soniquebay_sync: SoniqueBaySyncTable;
  artist_lastfm: ArtistLastfmTable;
  artist_similar: ArtistSimilarTable;
}

export type Db = Kysely<Database>;

export type DbDialect = 'sqlite' | 'postgres';
