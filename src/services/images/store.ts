// The image store: content-addressed folders on disk (sha256 of the original bytes), each holding
// the original once and its renditions at the configured sizes in WebP and JPEG (rendered after the
// picture is stored: renderAll, or on the first request). No image bytes
// ever go into a job payload or a database row. meta.json records each file's size and sha256: what is
// served is checked against it, and a damaged or deleted rendition is rendered again from the original.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Sharp from 'sharp';
import type { Metadata } from 'sharp';
import { lazy, lazyRequire } from '../../utils/lazy.js';
import { isCutShort } from './cut_short.js';
import { pictureHeader } from './header.js';

export const DEFAULT_IMAGE_SIZES: readonly number[] = [64, 256, 512, 1024];
export const IMAGE_FORMATS = ['webp', 'jpeg'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

const MIME: Record<string, { mime: string; ext: string }> = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  webp: { mime: 'image/webp', ext: 'webp' },
  gif: { mime: 'image/gif', ext: 'gif' },
  avif: { mime: 'image/avif', ext: 'avif' },
  heif: { mime: 'image/heif', ext: 'heif' },
  tiff: { mime: 'image/tiff', ext: 'tiff' },
};

/** larger pictures are refused rather than decoded (a hostile file could claim any size) */
const MAX_PIXELS = 100_000_000;

/**
 * sharp (libvips, ~0.08 CPU-s to load) on the first picture, not at every command start. Required,
 * not imported: Node's import of a CommonJS package first runs its export lexer over the package's
 * files, which V8 then compiles with its optimising compiler, twice: 0.22 CPU-s instead of 0.08.
 */
const loadSharp = lazy(() => {
  const sharp = sharpLibrary();
  // libvips' operation cache (50 MiB by default) never hits here: each picture is decoded once
  sharp.cache(false);
  return sharp;
});
const sharpLibrary = lazyRequire<typeof Sharp>('sharp');

/** what the store needs of a picture's header */
interface ImageHeader {
  format: string;
  width: number;
  height: number;
  /** EXIF orientation (1-8) */
  orientation?: number;
}

/** a picture's header as libvips reads it (the formats pictureHeader leaves to it) */
async function headerBySharp(bytes: Buffer): Promise<ImageHeader> {
  const sharp = loadSharp();
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
  } catch (err) {
    throw new CorruptImageError(err instanceof Error ? err.message : String(err));
  }
  if (!meta.format || !meta.width || !meta.height) throw new CorruptImageError(`unsupported format ${meta.format ?? 'unknown'}`);
  return { format: meta.format, width: meta.width, height: meta.height, ...(meta.orientation ? { orientation: meta.orientation } : {}) };
}

export class CorruptImageError extends Error {
  constructor(reason: string) {
    super(`not a readable image: ${reason}`);
    this.name = 'CorruptImageError';
  }
}

/** what meta.json holds: the image, and each file of its folder with its size and hash */
interface Meta extends Omit<StoredImage, 'created'> {
  files?: Record<string, { bytes: number; sha256: string }>;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export interface StoredImage {
  hash: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  /** false when the same picture was already stored */
  created: boolean;
}

export class ImageStore {
  private readonly sizes: number[];

  constructor(
    readonly dir: string,
    sizes: readonly number[] = DEFAULT_IMAGE_SIZES,
  ) {
    this.sizes = [...sizes].sort((a, b) => a - b);
  }

  folderOf(hash: string): string {
    return path.join(this.dir, hash.slice(0, 2), hash);
  }

  renditionPath(hash: string, size: number, format: ImageFormat): string {
    return path.join(this.folderOf(hash), `${size}.${format === 'jpeg' ? 'jpg' : 'webp'}`);
  }

  /** The rendition for a display size: the smallest stored size at least that large (else the largest). */
  pathFor(hash: string, size: number, format: ImageFormat): string {
    const chosen = this.sizes.find((s) => s >= size) ?? this.sizes[this.sizes.length - 1]!;
    return this.renditionPath(hash, chosen, format);
  }

  has(hash: string): boolean {
    return fs.existsSync(path.join(this.folderOf(hash), 'meta.json'));
  }

  /**
   * The stored picture whose content hash (sha256, hex) this is, or null: a caller that knows a
   * picture's hash (the scan takes it: tracks.picture_hash) links it without reading it again.
   */
  stored(hash: string): StoredImage | null {
    if (!/^[0-9a-f]{64}$/.test(hash)) return null;
    const meta = this.readMeta(hash);
    return meta ? { hash: meta.hash, mime: meta.mime, width: meta.width, height: meta.height, bytes: meta.bytes, created: false } : null;
  }

  /**
   * Stores a picture once per content, checked readable (header and size) but not rendered: the
   * display sizes cost a decode and eight encodes, which a scan must not wait for. Throws
   * CorruptImageError for bad bytes.
   */
  async put(bytes: Buffer): Promise<StoredImage> {
    const hash = sha256(bytes);
    return this.stored(hash) ?? this.storeByHeader(bytes, hash) ?? (await this.storeThroughSharp(bytes, hash));
  }

  /**
   * put() for a JPEG or PNG whose header image-size reads (nearly every cover), synchronously and
   * without sharp: a scan's parse thread stores the pictures it reads this way. Null for any other
   * picture, which put() takes through sharp. `hash` is the bytes' sha256, when the caller has it.
   */
  putWithoutSharp(bytes: Buffer, hash: string = sha256(bytes)): StoredImage | null {
    return this.stored(hash) ?? this.storeByHeader(bytes, hash);
  }

  /** a picture not stored yet, by its JPEG or PNG header; null for any other */
  private storeByHeader(bytes: Buffer, hash: string): StoredImage | null {
    const header = pictureHeader(bytes, MAX_PIXELS);
    if (!header) return null;
    // a cut picture is refused here, where the caller can still try the next source, not when its
    // sizes are rendered later: by its structure (cut_short.ts)
    if (isCutShort(bytes, header.format)) throw new CorruptImageError(`the ${header.format} picture is cut short`);
    return this.write(hash, bytes, header);
  }

  /** a picture not stored yet that storeByHeader leaves: the header read by libvips, a rare format checked by a small decode */
  private async storeThroughSharp(bytes: Buffer, hash: string): Promise<StoredImage> {
    const meta = await headerBySharp(bytes);
    if (!MIME[meta.format]) throw new CorruptImageError(`unsupported format ${meta.format}`);
    const cut = isCutShort(bytes, meta.format);
    if (cut) throw new CorruptImageError(`the ${meta.format} picture is cut short`);
    if (cut === null) {
      const sharp = loadSharp();
      try {
        await sharp(bytes, { limitInputPixels: MAX_PIXELS }).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
      } catch (err) {
        throw new CorruptImageError(err instanceof Error ? err.message : String(err));
      }
    }
    return this.write(hash, bytes, meta);
  }

  /** The original and meta.json, built in a temporary folder and renamed into place: a crash never leaves half an entry. */
  private write(hash: string, bytes: Buffer, meta: ImageHeader): StoredImage {
    const kind = MIME[meta.format]!;
    const folder = this.folderOf(hash);
    fs.mkdirSync(path.dirname(folder), { recursive: true });
    const temp = `${folder}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.mkdirSync(temp);
    try {
      fs.writeFileSync(path.join(temp, `original.${kind.ext}`), bytes);
      const oriented = meta.orientation && meta.orientation >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
      // the display sizes come later (renderAll, from deferred.render_images, or on the first request)
      const stored = { hash, mime: kind.mime, width: oriented.width, height: oriented.height, bytes: bytes.length };
      fs.writeFileSync(path.join(temp, 'meta.json'), JSON.stringify({ ...stored, files: {} } satisfies Meta));
      try {
        fs.renameSync(temp, folder);
      } catch (err) {
        // another worker (or thread) stored the same picture first: theirs stands
        if (this.readMeta(hash)) return { ...stored, created: false };
        if (!fs.existsSync(folder)) throw err;
        // a damaged entry (no readable meta.json) is replaced, never left blocking the picture
        const aside = `${folder}.damaged-${process.pid}-${randomBytes(4).toString('hex')}`;
        fs.renameSync(folder, aside);
        fs.renameSync(temp, folder);
        fs.rmSync(aside, { recursive: true, force: true });
      }
      return { ...stored, created: true };
    } catch (err) {
      if (err instanceof CorruptImageError) throw err;
      if (isDecodeError(err)) throw new CorruptImageError((err as Error).message);
      throw err;
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
  }

  /**
   * Decodes once to raw pixels at the largest size, then encodes every size from that: a 3000 px
   * JPEG is not decoded eight times. JPEG renditions are flattened on white (JPEG has no alpha).
   */
  private async render(bytes: Buffer, folder: string): Promise<Record<string, { bytes: number; sha256: string }>> {
    const sharp = loadSharp();
    const largest = this.sizes[this.sizes.length - 1]!;
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_PIXELS })
      .rotate()
      .resize(largest, largest, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    const files: Record<string, { bytes: number; sha256: string }> = {};
    await Promise.all(
      this.sizes.map(async (size) => {
        const resized = sharp(data, raw).resize(size, size, { fit: 'inside', withoutEnlargement: true });
        const [webp, jpeg] = await Promise.all([resized.clone().webp({ quality: 80 }).toBuffer(), resized.clone().flatten({ background: '#ffffff' }).jpeg({ quality: 85 }).toBuffer()]);
        for (const [name, out] of [[`${size}.webp`, webp], [`${size}.jpg`, jpeg]] as const) {
          fs.writeFileSync(path.join(folder, name), out);
          files[name] = { bytes: out.length, sha256: sha256(out) };
        }
      }),
    );
    return files;
  }

  /**
   * The bytes of a rendition, checked against the size and hash recorded when it was written. A
   * damaged or deleted one (or one stored before hashes were recorded) is rendered again from the
   * original; null when the picture is not stored (or its original is damaged too).
   */
  async rendition(hash: string, size: number, format: ImageFormat): Promise<Buffer | null> {
    const file = this.pathFor(hash, size, format);
    const name = path.basename(file);
    const meta = this.readMeta(hash);
    if (!meta) return null;
    const recorded = meta.files?.[name];
    if (recorded) {
      try {
        const bytes = await fs.promises.readFile(file);
        if (bytes.length === recorded.bytes && sha256(bytes) === recorded.sha256) return bytes;
      } catch {
        // deleted or unreadable: rendered again below
      }
    }
    return (await this.repair(hash, meta)) ? fs.promises.readFile(file) : null;
  }

  /**
   * Renders the display sizes of a stored picture unless all are recorded already. False when the
   * picture is not stored or its original is damaged; CorruptImageError when it cannot be decoded.
   */
  async renderAll(hash: string): Promise<boolean> {
    const meta = this.readMeta(hash);
    if (!meta) return false;
    const names = this.sizes.flatMap((size) => [`${size}.webp`, `${size}.jpg`]);
    if (names.every((name) => meta.files?.[name])) return true;
    try {
      return await this.repair(hash, meta);
    } catch (err) {
      if (isDecodeError(err)) throw new CorruptImageError((err as Error).message);
      throw err;
    }
  }

  /** Renders every rendition again from the original (whose hash is its name) and records them. */
  private async repair(hash: string, meta: Meta): Promise<boolean> {
    const folder = this.folderOf(hash);
    const original = fs.readdirSync(folder).find((f) => f.startsWith('original.'));
    if (!original) return false;
    const bytes = fs.readFileSync(path.join(folder, original));
    if (sha256(bytes) !== hash) return false;
    const temp = `${folder}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.mkdirSync(temp);
    try {
      const files = await this.render(bytes, temp);
      for (const name of Object.keys(files)) fs.renameSync(path.join(temp, name), path.join(folder, name));
      fs.writeFileSync(path.join(temp, 'meta.json'), JSON.stringify({ ...meta, files } satisfies Meta));
      fs.renameSync(path.join(temp, 'meta.json'), path.join(folder, 'meta.json'));
      return true;
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
  }

  private readMeta(hash: string): Meta | null {
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(this.folderOf(hash), 'meta.json'), 'utf8')) as Meta;
      return meta && typeof meta === 'object' && meta.hash === hash && typeof meta.mime === 'string' ? meta : null;
    } catch {
      return null; // absent or damaged: put() replaces the entry
    }
  }
}

function isDecodeError(err: unknown): boolean {
  return err instanceof Error && /(corrupt|premature|invalid|unsupported|bad|vips)/i.test(err.message);
}
