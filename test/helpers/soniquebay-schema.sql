-- SoniqueBay's library schema at HEAD (2044878), written from ../shared/reference/soniquebay-contract.md §3
-- for tests and the sync benchmark: the tables the worker's sink writes and the UI reads, with their
-- constraints and traps (no keys on link tables, upper-case covertype labels and no covers unique key,
-- int4 file_size, trigger-maintained tsvector search columns, a scan_sessions id with no default).
-- Run with search_path set to a schema of the test's own. {{VECTOR}} is vector(512) when pgvector is
-- installed, else text (the sink never writes that column).

CREATE TYPE covertype AS ENUM ('TRACK', 'ALBUM', 'ARTIST');

CREATE TABLE artists (
  id serial PRIMARY KEY,
  name varchar NOT NULL CONSTRAINT uq_artists_name UNIQUE,
  musicbrainz_artistid varchar,
  date_added timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  lastfm_url varchar,
  lastfm_listeners int4,
  lastfm_playcount int4,
  lastfm_tags varchar,
  lastfm_similar_artists_fetched int4,
  lastfm_info_fetched_at timestamptz,
  vector {{VECTOR}},
  search tsvector
);
CREATE INDEX idx_artist_name ON artists (name);
CREATE INDEX idx_artists_search ON artists USING gin (search);

CREATE TABLE albums (
  id serial PRIMARY KEY,
  title varchar NOT NULL,
  album_artist_id int4 NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
  release_year varchar,
  musicbrainz_albumid varchar,
  date_added timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_album_title ON albums (title);

CREATE TABLE tracks (
  id serial PRIMARY KEY,
  title varchar,
  album_id int4 REFERENCES albums (id),
  path varchar NOT NULL CONSTRAINT uq_tracks_path UNIQUE,
  duration int4,
  track_number varchar,
  disc_number varchar,
  year varchar,
  genre varchar,
  musicbrainz_id varchar CONSTRAINT uq_tracks_musicbrainz_id UNIQUE,
  musicbrainz_albumid varchar,
  musicbrainz_artistid varchar,
  musicbrainz_albumartistid varchar,
  musicbrainz_genre varchar,
  acoustid_fingerprint varchar,
  file_type varchar,
  bitrate int4,
  file_mtime float,
  file_size int4,
  track_artist_id int4 NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
  featured_artists varchar,
  date_added timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  search tsvector
);
CREATE INDEX idx_tracks_path ON tracks (path);
CREATE INDEX idx_tracks_mb_id ON tracks (musicbrainz_id);
CREATE INDEX idx_tracks_genre ON tracks (genre);
CREATE INDEX idx_tracks_dates ON tracks (date_added, date_modified);
CREATE INDEX idx_tracks_artist_album ON tracks (track_artist_id, album_id);
CREATE INDEX idx_tracks_search ON tracks USING gin (search);

CREATE FUNCTION update_tracks_search() RETURNS trigger AS $$
BEGIN
  NEW.search := to_tsvector('english', coalesce(NEW.title, '') || ' ' || coalesce(NEW.genre, '') || ' ' || coalesce(NEW.musicbrainz_genre, ''));
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER trigger_update_tracks_search BEFORE INSERT OR UPDATE ON tracks FOR EACH ROW EXECUTE FUNCTION update_tracks_search();

CREATE FUNCTION update_artists_search() RETURNS trigger AS $$
BEGIN
  NEW.search := to_tsvector('english', coalesce(NEW.name, ''));
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER trigger_update_artists_search BEFORE INSERT OR UPDATE ON artists FOR EACH ROW EXECUTE FUNCTION update_artists_search();

CREATE TABLE genres (
  id serial PRIMARY KEY,
  name varchar NOT NULL CONSTRAINT uq_genres_name UNIQUE,
  date_added timestamptz DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE genre_tags (id serial PRIMARY KEY, name varchar CONSTRAINT uq_genre_tags_name UNIQUE);
CREATE INDEX idx_genre_tag_name ON genre_tags (name);
CREATE TABLE mood_tags (id serial PRIMARY KEY, name varchar CONSTRAINT uq_mood_tags_name UNIQUE);
CREATE INDEX idx_mood_tag_name ON mood_tags (name);

-- no primary key, unique key or index: ON CONFLICT is impossible
CREATE TABLE track_genres (track_id int4 REFERENCES tracks (id) ON DELETE CASCADE, genre_id int4 REFERENCES genres (id) ON DELETE CASCADE);
CREATE TABLE album_genres (album_id int4 REFERENCES albums (id) ON DELETE CASCADE, genre_id int4 REFERENCES genres (id) ON DELETE CASCADE);
CREATE TABLE artist_genres (artist_id int4 REFERENCES artists (id) ON DELETE CASCADE, genre_id int4 REFERENCES genres (id) ON DELETE CASCADE);
CREATE TABLE track_genre_tags (track_id int4 REFERENCES tracks (id) ON DELETE CASCADE, tag_id int4 REFERENCES genre_tags (id) ON DELETE CASCADE);
CREATE TABLE track_mood_tags (track_id int4 REFERENCES tracks (id) ON DELETE CASCADE, tag_id int4 REFERENCES mood_tags (id) ON DELETE CASCADE);

-- uq_entity_cover and idx_entity_lookup were dropped by fix_entitycovertype_enum
CREATE TABLE covers (
  id serial PRIMARY KEY,
  entity_id int4 NOT NULL,
  cover_data varchar,
  mime_type varchar,
  url varchar,
  date_added timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  entity_type covertype NOT NULL
);

CREATE TABLE track_audio_features (
  id serial PRIMARY KEY,
  track_id int4 NOT NULL REFERENCES tracks (id) ON DELETE CASCADE CONSTRAINT uq_track_audio_features_track_id UNIQUE,
  bpm float,
  key varchar,
  scale varchar,
  danceability float,
  mood_happy float,
  mood_aggressive float,
  mood_party float,
  mood_relaxed float,
  instrumental float,
  acoustic float,
  tonal float,
  genre_main varchar,
  camelot_key varchar,
  analysis_source varchar,
  analyzed_at timestamptz,
  mir_source varchar(50),
  mir_version varchar(20),
  confidence_score float,
  date_added timestamptz DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE track_embeddings (
  id serial PRIMARY KEY,
  track_id int4 NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
  embedding_type varchar NOT NULL DEFAULT 'semantic',
  vector text NOT NULL,
  embedding_source varchar,
  embedding_model varchar,
  created_at timestamptz,
  date_added timestamptz DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX uq_track_embeddings_track_type ON track_embeddings (track_id, embedding_type);

CREATE TABLE scan_sessions (
  id varchar PRIMARY KEY,
  directory varchar NOT NULL,
  status varchar NOT NULL,
  last_processed_file text,
  processed_files int4 NOT NULL,
  total_files int4,
  task_id varchar,
  started_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE artist_similar (
  id serial PRIMARY KEY,
  artist_id int4 NOT NULL REFERENCES artists (id),
  similar_artist_id int4 NOT NULL REFERENCES artists (id),
  weight float NOT NULL DEFAULT 0.0,
  source varchar(50) NOT NULL DEFAULT 'lastfm',
  date_added timestamptz DEFAULT CURRENT_TIMESTAMP,
  date_modified timestamptz DEFAULT CURRENT_TIMESTAMP
);
