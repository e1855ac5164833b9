// A JPEG or PNG picture's size and orientation from its header (image-size), for the image store:
// the covers a scan stores are nearly all JPEG or PNG, and reading their header through sharp cost
// the scan sharp's load (libvips, ~60-80 ms of the main thread) and ~0.15 ms of its time per picture.
// Anything else, or anything image-size and libvips might read differently, goes to sharp as before.
import { lazyRequire } from '../../utils/lazy.js';

export interface PictureHeader {
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  /** EXIF orientation (1-8), JPEG only */
  orientation?: number;
}

const imageSize = lazyRequire<typeof import('image-size')>('image-size');

const PNG_IHDR = Buffer.from('IHDR', 'latin1');

/**
 * The header of a JPEG or PNG of at most `maxPixels`, or null for sharp to judge: another format,
 * a header image-size cannot read, a PNG whose first chunk is not IHDR (Apple's CgBI variant, which
 * libpng refuses), or more pixels than that.
 */
export function pictureHeader(bytes: Uint8Array, maxPixels: number): PictureHeader | null {
  let size: ReturnType<ReturnType<typeof imageSize>['imageSize']>;
  try {
    size = imageSize().imageSize(bytes);
  } catch {
    return null;
  }
  const format = size.type === 'jpg' ? 'jpeg' : size.type === 'png' ? 'png' : null;
  if (!format || !(size.width > 0) || !(size.height > 0) || size.width * size.height > maxPixels) return null;
  if (format === 'png' && !Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).subarray(12, 16).equals(PNG_IHDR)) return null;
  return { format, width: size.width, height: size.height, ...(format === 'jpeg' && size.orientation ? { orientation: size.orientation } : {}) };
}
