// The distinct embedded pictures of music-metadata's own test-suite samples (read in place): the
// pictures other programs wrote, for the image tests.
import fs from 'node:fs';
import path from 'node:path';
import { parseFile } from 'music-metadata';

export const CORPUS = path.resolve(import.meta.dirname, '../../../shared/corpora/music-metadata-samples');

/** each distinct picture once (by its length and first 64 bytes), with the file it came from */
export async function corpusPictures(): Promise<{ file: string; bytes: Buffer }[]> {
  const out: { file: string; bytes: Buffer }[] = [];
  const seen = new Set<string>();
  for (const file of fs.readdirSync(CORPUS, { recursive: true }).map(String).sort()) {
    const full = path.join(CORPUS, file);
    if (!fs.statSync(full).isFile()) continue;
    const metadata = await parseFile(full, { duration: false }).catch(() => null);
    for (const picture of metadata?.common.picture ?? []) {
      const bytes = Buffer.from(picture.data);
      const key = `${bytes.length}:${bytes.subarray(0, 64).toString('hex')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ file, bytes });
    }
  }
  return out;
}
