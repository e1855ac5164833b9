// Genre normalisation: tag values (ID3, Vorbis, MP4, providers, AcousticBrainz) become canonical
// genre names from taxonomy.json, with their parent chain. Unknown genres are kept, tidied.

import { lazy } from '../../utils/lazy.js';
import { cleanName, nameKey } from '../../workers/scan/names.js';
import taxonomyData from './taxonomy.json' with { type: 'json' };

export interface TaxonomyGenre {
  name: string;
  parent: string | null;
  aliases: string[];
}

export interface NormalizedGenre {
  /** Canonical name (known) or the tidied input (unknown). */
  name: string;
  parent: string | null;
  known: boolean;
}

export const TAXONOMY: readonly TaxonomyGenre[] = taxonomyData as TaxonomyGenre[];

/** Longest genre we keep; longer values are comments, URLs or whole sentences. */
export const MAX_GENRE_LENGTH = 50;

/**
 * Match key: nameKey (case, accents, spaces) plus "&" read as "and" and every other non-letter,
 * non-digit dropped, so "Hip-Hop", "HipHop" and "hip hop" are one key, as are "Drum & Bass" and
 * "Drum and Bass".
 */
export function genreKey(value: string): string {
  return nameKey(value).replace(/&/g, 'and').replace(/[^\p{L}\p{N}]+/gu, '');
}

/** every spelling's match key → its genre; built on first use (a rescan that reads no tags never needs it) */
const byKey = lazy(() => {
  const map = new Map<string, TaxonomyGenre>();
  for (const genre of TAXONOMY) {
    for (const spelling of [genre.name, ...genre.aliases]) {
      const key = genreKey(spelling);
      if (!map.has(key)) map.set(key, genre);
    }
  }
  return map;
});

/** The taxonomy entry for a name or alias in any casing/spelling, if known. */
export function lookupGenre(value: string): TaxonomyGenre | undefined {
  return byKey().get(genreKey(value));
}

/** ID3v1 genre numbers 0–191 (0–79 standard, 80–191 Winamp extensions), as ID3v2 "(n)" references use them. */
export const ID3V1_GENRES: readonly string[] = [
  'Blues', 'Classic Rock', 'Country', 'Dance', 'Disco', 'Funk', 'Grunge', 'Hip-Hop', 'Jazz', 'Metal',
  'New Age', 'Oldies', 'Other', 'Pop', 'R&B', 'Rap', 'Reggae', 'Rock', 'Techno', 'Industrial',
  'Alternative', 'Ska', 'Death Metal', 'Pranks', 'Soundtrack', 'Euro-Techno', 'Ambient', 'Trip-Hop', 'Vocal', 'Jazz+Funk',
  'Fusion', 'Trance', 'Classical', 'Instrumental', 'Acid', 'House', 'Game', 'Sound Clip', 'Gospel', 'Noise',
  'AlternRock', 'Bass', 'Soul', 'Punk', 'Space', 'Meditative', 'Instrumental Pop', 'Instrumental Rock', 'Ethnic', 'Gothic',
  'Darkwave', 'Techno-Industrial', 'Electronic', 'Pop-Folk', 'Eurodance', 'Dream', 'Southern Rock', 'Comedy', 'Cult', 'Gangsta',
  'Top 40', 'Christian Rap', 'Pop/Funk', 'Jungle', 'Native American', 'Cabaret', 'New Wave', 'Psychadelic', 'Rave', 'Showtunes',
  'Trailer', 'Lo-Fi', 'Tribal', 'Acid Punk', 'Acid Jazz', 'Polka', 'Retro', 'Musical', 'Rock & Roll', 'Hard Rock',
  'Folk', 'Folk-Rock', 'National Folk', 'Swing', 'Fast Fusion', 'Bebob', 'Latin', 'Revival', 'Celtic', 'Bluegrass',
  'Avantgarde', 'Gothic Rock', 'Progressive Rock', 'Psychedelic Rock', 'Symphonic Rock', 'Slow Rock', 'Big Band', 'Chorus', 'Easy Listening', 'Acoustic',
  'Humour', 'Speech', 'Chanson', 'Opera', 'Chamber Music', 'Sonata', 'Symphony', 'Booty Bass', 'Primus', 'Porn Groove',
  'Satire', 'Slow Jam', 'Club', 'Tango', 'Samba', 'Folklore', 'Ballad', 'Power Ballad', 'Rhythmic Soul', 'Freestyle',
  'Duet', 'Punk Rock', 'Drum Solo', 'A Cappella', 'Euro-House', 'Dance Hall', 'Goa', 'Drum & Bass', 'Club-House', 'Hardcore',
  'Terror', 'Indie', 'BritPop', 'Afro-Punk', 'Polsk Punk', 'Beat', 'Christian Gangsta Rap', 'Heavy Metal', 'Black Metal', 'Crossover',
  'Contemporary Christian', 'Christian Rock', 'Merengue', 'Salsa', 'Thrash Metal', 'Anime', 'JPop', 'Synthpop', 'Abstract', 'Art Rock',
  'Baroque', 'Bhangra', 'Big Beat', 'Breakbeat', 'Chillout', 'Downtempo', 'Dub', 'EBM', 'Eclectic', 'Electro',
  'Electroclash', 'Emo', 'Experimental', 'Garage', 'Global', 'IDM', 'Illbient', 'Industro-Goth', 'Jam Band', 'Krautrock',
  'Leftfield', 'Lounge', 'Math Rock', 'New Romantic', 'Nu-Breakz', 'Post-Punk', 'Post-Rock', 'Psytrance', 'Shoegaze', 'Space Rock',
  'Trop Rock', 'World Music', 'Neoclassical', 'Audiobook', 'Audio Theatre', 'Neue Deutsche Welle', 'Podcast', 'Indie Rock', 'G-Funk', 'Dubstep',
  'Garage Rock', 'Psybient',
];

/** Values that say "no genre" rather than naming one (compared by genreKey). */
const JUNK_KEYS = new Set(
  ['Unknown', 'Unknown Genre', 'Other', 'Others', 'Genre', 'Genres', 'No Genre', 'Misc', 'Miscellaneous', 'None', 'N/A', 'Null', 'Undefined', 'Various', 'Sound Clip', 'Remix', 'Cover'].map(genreKey),
);

/** Separators between genres in one value: ";", "/", ",", "|" and NUL (ID3v2.4 multi-value). */
const SEPARATORS = /[;/,|\0]/;

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Discogs genres whose one name holds a separator (Discogs taggers write them as one genre). */
const DISCOGS_GENRES = ['Folk, World, & Country', 'Funk / Soul'];

/** Known spellings that contain a separator ("Singer/Songwriter", "R&B/Soul", "N/A"): never split inside them. */
const protectedSpellings = lazy(() => {
  const spellings = [...TAXONOMY.flatMap((g) => [g.name, ...g.aliases]), ...DISCOGS_GENRES, 'N/A'].filter((s) => SEPARATORS.test(s));
  if (spellings.length === 0) return null;
  const pattern = (spelling: string) =>
    spelling
      .split(/(\s+|[;/,|])/)
      .map((part) => (/^\s+$/.test(part) ? '\\s+' : SEPARATORS.test(part) ? `\\s*${escapeRegExp(part)}\\s*` : escapeRegExp(part)))
      .join('');
  const alternatives = spellings.sort((a, b) => b.length - a.length).map(pattern);
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
});

/** Splits one tag value into genre strings, keeping protected spellings whole. */
function splitValue(value: string): string[] {
  const pieces: string[] = [];
  let rest = 0;
  const spellings = protectedSpellings();
  if (spellings) {
    spellings.lastIndex = 0;
    for (const match of value.matchAll(spellings)) {
      pieces.push(...value.slice(rest, match.index).split(SEPARATORS));
      pieces.push(match[0]);
      rest = match.index + match[0].length;
    }
  }
  pieces.push(...value.slice(rest).split(SEPARATORS));
  return pieces;
}

/**
 * ID3v2.3 genre references: "(17)" is ID3v1 genre 17 (Rock), "(17)Hard Rock" refines it, "(51)(39)"
 * names two, "(RX)"/"(CR)" mean remix/cover, "((" escapes a literal "(".
 */
function expandId3(value: string): string[] {
  if (value.startsWith('((')) return [value.slice(1)];
  const match = /^((?:\(\s*(?:\d{1,3}|RX|CR)\s*\))+)(.*)$/i.exec(value);
  if (!match) return [value];
  const refinement = (match[2] ?? '').trim();
  if (refinement.length > 0) return [refinement];
  const names: string[] = [];
  for (const ref of (match[1] ?? '').matchAll(/\(\s*(\d{1,3}|RX|CR)\s*\)/gi)) {
    const id = Number(ref[1]);
    const name = Number.isInteger(id) ? ID3V1_GENRES[id] : undefined;
    if (name) names.push(name);
  }
  return names;
}

/** Numbers ("2005", "14"), decades ("80s", "90's", "1990s"), junk words, empty and overlong values. */
function isJunk(value: string): boolean {
  if (value.length === 0 || value.length > MAX_GENRE_LENGTH) return true;
  if (/^[\d\s.,:-]+$/.test(value)) return true;
  if (/^(?:\d{2}|\d{4})\s*['’]?s$/i.test(value)) return true;
  const key = genreKey(value);
  return key.length === 0 || JUNK_KEYS.has(key);
}

const MINOR_WORDS = new Set(['a', 'an', 'and', 'as', 'at', 'de', 'del', 'des', 'du', 'el', 'en', 'for', 'in', 'la', 'le', 'n', 'of', 'on', 'or', 'the', 'to', 'with', 'y']);
const ACRONYMS = new Set(['dj', 'ebm', 'edm', 'idm', 'mc', 'nyc', 'ost', 'uk', 'us', 'usa', 'tv', 'vgm']);

function casePart(part: string, first: boolean, shouting: boolean): string {
  const letters = part.replace(/[^\p{L}]/gu, '');
  if (letters.length === 0) return part;
  const lower = letters.toLowerCase();
  if (ACRONYMS.has(lower)) return part.toUpperCase();
  const allCaps = letters === letters.toUpperCase() && letters !== lower;
  // Words all in capitals are acronyms (EDM, UK), unless the whole value is shouted ("DARK CABARET").
  if (allCaps && letters.length > 1 && !(shouting && letters.length > 3)) return part;
  // Deliberate inner capitals ("McCartney", "DnB") are kept.
  if (!allCaps && /\p{Lu}/u.test(letters.slice(1))) return part;
  if (!first && MINOR_WORDS.has(lower)) return part.toLowerCase();
  return part.toLowerCase().replace(/\p{L}/u, (c) => c.toUpperCase());
}

/** Title Case for unknown genres: "indie folk" → "Indie Folk", "uk funky" → "UK Funky", "post-grunge" → "Post-Grunge". */
export function tidyGenreCase(value: string): string {
  const words = cleanName(value).split(' ');
  const hasLower = /\p{Ll}/u.test(value);
  const shouting = !hasLower && words.some((w) => w.replace(/[^\p{L}]/gu, '').length > 3);
  return words
    .map((word, i) => word.split('-').map((part, j) => casePart(part, i === 0 || j > 0, shouting)).join('-'))
    .join(' ');
}

/**
 * Tag values → canonical genres. Splits multi-genre strings, expands ID3v1 references, maps
 * aliases and spelling variants to the taxonomy, keeps unknown genres (tidied, known=false),
 * drops junk, and dedupes case-insensitively keeping the first occurrence's order.
 */
export function normalizeGenres(raw: readonly string[]): NormalizedGenre[] {
  const out: NormalizedGenre[] = [];
  const seen = new Set<string>();
  for (const value of raw) {
    if (typeof value !== 'string') continue;
    for (const piece of splitValue(value)) {
      for (const candidate of expandId3(cleanName(piece))) {
        const text = cleanName(candidate);
        if (isJunk(text)) continue;
        const genre = lookupGenre(text);
        const result: NormalizedGenre = genre
          ? { name: genre.name, parent: genre.parent, known: true }
          : { name: tidyGenreCase(text), parent: null, known: false };
        const key = genreKey(result.name);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(result);
      }
    }
  }
  return out;
}

/** Parent genre of a known genre (any spelling), or null for a family root or an unknown genre. */
export function genreParent(name: string): string | null {
  return lookupGenre(name)?.parent ?? null;
}

/** Parent chain, nearest first: "Deep House" → ["House", "Electronic"]. Empty for roots and unknown genres. */
export function genreAncestors(name: string): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  let current = lookupGenre(name);
  if (current) seen.add(current.name);
  while (current?.parent && !seen.has(current.parent)) {
    chain.push(current.parent);
    seen.add(current.parent);
    current = lookupGenre(current.parent);
  }
  return chain;
}

/** AcousticBrainz high-level genre classifier class codes (rosamerica, tzanetakis, dortmund, electronic). */
const AB_GENRE_CODES: Record<string, readonly string[]> = {
  alt: ['Alternative Rock'],
  blu: ['Blues'],
  cla: ['Classical'],
  cou: ['Country'],
  dan: ['Dance'],
  dis: ['Disco'],
  hip: ['Hip Hop'],
  jaz: ['Jazz'],
  met: ['Metal'],
  reg: ['Reggae'],
  rhy: ['R&B'],
  roc: ['Rock'],
  spe: ['Spoken Word'],
  folkcountry: ['Folk', 'Country'],
  funksoulrnb: ['Funk', 'Soul', 'R&B'],
  raphiphop: ['Hip Hop'],
};

const NUMERIC = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

/** Mood name from a classifier segment: "mood_happy" → "happy", "not_happy" → null, "cluster1" → null. */
function moodName(segment: string): string | null {
  const name = segment
    .trim()
    .toLowerCase()
    .replace(/^moods?_/, '')
    .replace(/_/g, ' ')
    .trim();
  if (name.length === 0 || name.length > MAX_GENRE_LENGTH) return null;
  if (/^not\b/.test(name) || /\d/.test(name)) return null;
  if (/^(?:mood|moods|danceability|mirex)$/.test(name)) return null;
  return name;
}

/**
 * AcousticBrainz-style tags (keys like "ab:hi:mood_happy:happy" = "0.83", "ab:genre" = "Rock")
 * → genres and weighted moods. Numeric mood/danceability probabilities above 0.5 become moods
 * with that weight; non-numeric mood values become moods with weight 1; non-numeric genre values
 * (without digits) go through normalizeGenres. Moods are deduped (highest weight), strongest first.
 */
export function moodAndGenreTagsFromAb(abTags: Record<string, string>): { genres: string[]; moods: { name: string; weight: number }[] } {
  const genreValues: string[] = [];
  const moods = new Map<string, number>();
  const addMood = (name: string | null, weight: number) => {
    if (!name) return;
    moods.set(name, Math.max(moods.get(name) ?? 0, weight));
  };
  for (const [rawKey, rawValue] of Object.entries(abTags ?? {})) {
    const key = rawKey.trim().toLowerCase();
    if (!key.startsWith('ab:') || rawValue === null || rawValue === undefined) continue;
    const value = String(rawValue).trim();
    if (value.length === 0) continue;
    const numeric = NUMERIC.test(value);
    const segments = key.split(':');
    if (key.includes('genre')) {
      if (numeric) continue;
      for (const piece of value.split(SEPARATORS)) {
        const text = piece.trim();
        if (text.length === 0 || /\d/.test(text)) continue;
        genreValues.push(...(AB_GENRE_CODES[text.toLowerCase()] ?? [text]));
      }
    } else if (key.includes('mood') || key.includes('danceab')) {
      if (numeric) {
        const weight = Number(value);
        if (!(weight > 0.5)) continue;
        addMood(moodName(segments[segments.length - 1] ?? ''), Math.min(weight, 1));
      } else {
        for (const piece of value.split(SEPARATORS)) addMood(moodName(piece), 1);
      }
    }
  }
  return {
    genres: normalizeGenres(genreValues).map((g) => g.name),
    moods: [...moods].map(([name, weight]) => ({ name, weight })).sort((a, b) => b.weight - a.weight),
  };
}
