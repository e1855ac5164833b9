// How names become dedupe keys, and how multi-value tag strings are split. Documented in
// docs/scan.md; the batch stage and the tests rely on exactly these rules.

/** Case-, accent- and space-insensitive key: "Beyoncé " and "beyonce" are one artist. */
export function nameKey(name: string): string {
  // printable ASCII has nothing to decompose nor marks to drop: the same key without the Unicode
  // work (nameKey was 8 % of the batch writer's time on a 10k scan)
  if (/^[\x20-\x7e]*$/.test(name)) return name.toLowerCase().replace(/ +/g, ' ').trim();
  return name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** NFC, trimmed, inner whitespace collapsed: how a name is stored and shown. */
export function cleanName(name: string): string {
  // most tag values are already clean printable ASCII: skip the normalisation and regex work
  if (/^[\x21-\x7e](?:[\x21-\x7e]| (?! ))*$/.test(name) && !name.endsWith(' ')) return name;
  return name.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** Values of a multi-value tag, each also split on ";" and " / " (ID3v2.3 and hand-tagged files). */
export function splitArtists(values: readonly string[]): string[] {
  return uniqueByKey(values.flatMap((v) => v.split(/\s*;\s*|\s+\/\s+|\0/)).map(cleanName).filter(Boolean));
}

export function uniqueByKey(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const value of values) {
    const key = nameKey(value);
    if (key.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(value);
  }
  return out;
}

export const UNKNOWN_ARTIST = '[Unknown Artist]';
export const UNKNOWN_ALBUM = '[Unknown Album]';
export const VARIOUS_ARTISTS = 'Various Artists';
