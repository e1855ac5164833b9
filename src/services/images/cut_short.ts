// Whether a JPEG or PNG picture is whole, from its structure alone (no decode). The image store
// refuses a cut picture when it is stored, so that the covers job can try the next source; a
// 64-pixel decode told the same at 3.3 ms of CPU per 1000-px cover (bench: docs/benchmarks.md),
// the walk below at a few microseconds. What it cannot see (damaged bytes inside a whole file)
// the display sizes' decode reports later (deferred.render_images).

/**
 * true: the bytes end before the picture does; false: the picture is whole (bytes after its end,
 * which tag writers leave, do not matter); null: a format this does not judge (decode it).
 */
export function isCutShort(bytes: Uint8Array, format: string): boolean | null {
  if (format === 'jpeg') return !jpegIsWhole(bytes);
  if (format === 'png') return !pngIsWhole(bytes);
  return null;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;

/** Walks the marker segments from SOI to EOI, skipping each scan's entropy-coded data. */
function jpegIsWhole(b: Uint8Array): boolean {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== SOI) return false;
  let pos = 2;
  while (pos < b.length) {
    if (b[pos] !== 0xff) return false;
    while (pos < b.length && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= b.length) return false;
    const marker = b[pos++]!;
    if (marker === EOI) return true;
    if (isRestart(marker) || marker === 0x01) continue; // no length
    if (pos + 2 > b.length) return false;
    const length = (b[pos]! << 8) | b[pos + 1]!;
    if (length < 2 || pos + length > b.length) return false;
    pos += length;
    if (marker !== SOS) continue;
    // entropy-coded data: up to the next marker (0xFF not followed by a stuffed 0x00 or a restart)
    for (;;) {
      const ff = b.indexOf(0xff, pos);
      if (ff < 0 || ff + 1 >= b.length) return false;
      const next = b[ff + 1]!;
      if (next === 0x00 || isRestart(next)) {
        pos = ff + 2;
        continue;
      }
      pos = ff;
      break;
    }
  }
  return false;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Walks the chunks (length, type, data, CRC) up to IEND. */
function pngIsWhole(b: Uint8Array): boolean {
  if (b.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((v, i) => b[i] !== v)) return false;
  let pos = PNG_SIGNATURE.length;
  while (pos + 12 <= b.length) {
    const length = ((b[pos]! << 24) >>> 0) + (b[pos + 1]! << 16) + (b[pos + 2]! << 8) + b[pos + 3]!;
    const end = pos + 12 + length;
    if (end > b.length) return false;
    if (b[pos + 4] === 0x49 && b[pos + 5] === 0x45 && b[pos + 6] === 0x4e && b[pos + 7] === 0x44) return true; // IEND
    pos = end;
  }
  return false;
}
