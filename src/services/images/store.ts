// The image store: content-addressed entries on disk (sha256 of the original bytes), each holding
// the original once and its renditions at the configured sizes in WebP and JPEG (rendered after the
// picture is stored: renderAll, or on the first request). No image bytes
// ever go into a job payload or a database row. meta.json records each file's size and sha256: what is
// served is checked against it, and a damaged or deleted rendition is rendered again from the original.
//
// An entry's files are `<hh>/<hash>.<name>` (`hh`: the hash's first two digits; names `meta.json`,
// `original.<ext>`, `<size>.webp`, `<size>.jpg`). Entries stored before 2026-12-07 are folders,
// `<hh>/<hash>/<name>`, and stay so: they are read, rendered and removed where they are. A folder per
// picture cost a directory creation per picture stored, and creating a directory is slow on ext4
// (~0.8 ms of kernel time each on the development VM, against ~0.03-0.14 ms for a file): 0.7 s of
// a 10,000-file first scan, most of it on the main thread. Each file is written under a temporary
// name and renamed into place, meta.json last: an entry without meta.json is not stored yet.
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

  /** the prefix folders this instance has made (or found): created once each, not once a picture */
  private readonly prefixes = new Set<string>();

  /** The path of one file of an entry, in the entry's layout (see the header). */
  fileOf(hash: string, name: string, layout: Layout = this.layoutOf(hash)): string {
    return layout === 'folder' ? path.join(this.dir, hash.slice(0, 2), hash, name) : path.join(this.dir, hash.slice(0, 2), `${hash}.${name}`);
  }

  /** 'folder' for an entry stored before the flat layout, else 'flat' (also for a picture not stored) */
  private layoutOf(hash: string): Layout {
    return !fs.existsSync(this.fileOf(hash, 'meta.json', 'flat')) && fs.existsSync(this.fileOf(hash, 'meta.json', 'folder')) ? 'folder' : 'flat';
  }

  renditionPath(hash: string, size: number, format: ImageFormat): string {
    return this.fileOf(hash, renditionName(size, format));
  }

  /** The rendition for a display size: the smallest stored size at least that large (else the largest). */
  pathFor(hash: string, size: number, format: ImageFormat): string {
    return this.renditionPath(hash, this.sizeFor(size), format);
  }

  private sizeFor(size: number): number {
    return this.sizes.find((s) => s >= size) ?? this.sizes[this.sizes.length - 1]!;
  }

  has(hash: string): boolean {
    return fs.existsSync(this.fileOf(hash, 'meta.json', 'flat')) || fs.existsSync(this.fileOf(hash, 'meta.json', 'folder'));
  }

  /** Deletes a stored picture's files (the cleanup of pictures no cover uses any more). */
  remove(hash: string): void {
    if (!SHA256_HEX.test(hash)) return;
    fs.rmSync(path.join(this.dir, hash.slice(0, 2), hash), { recursive: true, force: true });
    const meta = this.readMetaIn(hash, 'flat');
    // meta.json last: until it goes, the entry is still found, and a retry finishes the removal
    const names = [...(meta ? [`original.${MIME_EXT[meta.mime] ?? ''}`, ...Object.keys(meta.files ?? {})] : []), 'meta.json'];
    for (const name of names) fs.rmSync(this.fileOf(hash, name, 'flat'), { force: true });
  }

  /**
   * The stored picture whose content hash (sha256, hex) this is, or null: a caller that knows a
   * picture's hash (the scan takes it: tracks.picture_hash) links it without reading it again.
   */
  stored(hash: string): StoredImage | null {
    if (!SHA256_HEX.test(hash)) return null;
    const meta = this.entry(hash)?.meta;
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

  /**
   * The original, then meta.json, each written under a temporary name and renamed into place: a
   * crash never leaves an entry that looks stored. A damaged entry (no readable meta.json) is
   * written over, never left blocking the picture.
   */
  private write(hash: string, bytes: Buffer, meta: ImageHeader): StoredImage {
    const kind = MIME[meta.format]!;
    const prefix = path.join(this.dir, hash.slice(0, 2));
    if (!this.prefixes.has(prefix)) {
      fs.mkdirSync(prefix, { recursive: true });
      this.prefixes.add(prefix);
    }
    const oriented = meta.orientation && meta.orientation >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
    // the display sizes come later (renderAll, from deferred.render_images, or on the first request)
    const stored = { hash, mime: kind.mime, width: oriented.width, height: oriented.height, bytes: bytes.length };
    const original = this.fileOf(hash, `original.${kind.ext}`, 'flat');
    try {
      writeInPlace(original, bytes);
    } catch (err) {
      // the prefix folder was removed since this store made it (the images folder emptied by hand)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(prefix, { recursive: true });
      writeInPlace(original, bytes);
    }
    // another worker (or thread) may have stored the same picture meanwhile: the same original, and
    // its meta.json may already list renditions; it stands
    if (this.readMetaIn(hash, 'flat')) return { ...stored, created: false };
    writeInPlace(this.fileOf(hash, 'meta.json', 'flat'), JSON.stringify({ ...stored, files: {} } satisfies Meta));
    return { ...stored, created: true };
  }

  /**
   * Decodes once to raw pixels at the largest size, then encodes every size from that: a 3000 px
   * JPEG is not decoded eight times. JPEG renditions are flattened on white (JPEG has no alpha).
   */
  private async render(bytes: Buffer, fileOf: (name: string) => string): Promise<Record<string, { bytes: number; sha256: string }>> {
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
        for (const [name, out] of [[renditionName(size, 'webp'), webp], [renditionName(size, 'jpeg'), jpeg]] as const) {
          writeInPlace(fileOf(name), out);
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
    const name = renditionName(this.sizeFor(size), format);
    const entry = this.entry(hash);
    if (!entry) return null;
    const file = this.fileOf(hash, name, entry.layout);
    const recorded = entry.meta.files?.[name];
    if (recorded) {
      try {
        const bytes = await fs.promises.readFile(file);
        if (bytes.length === recorded.bytes && sha256(bytes) === recorded.sha256) return bytes;
      } catch {
        // deleted or unreadable: rendered again below
      }
    }
    return (await this.repair(hash, entry)) ? fs.promises.readFile(file) : null;
  }

  /**
   * Renders the display sizes of a stored picture unless all are recorded already. False when the
   * picture is not stored or its original is damaged; CorruptImageError when it cannot be decoded.
   */
  async renderAll(hash: string): Promise<boolean> {
    const entry = this.entry(hash);
    if (!entry) return false;
    const names = this.sizes.flatMap((size) => IMAGE_FORMATS.map((format) => renditionName(size, format)));
    if (names.every((name) => entry.meta.files?.[name])) return true;
    try {
      return await this.repair(hash, entry);
    } catch (err) {
      if (isDecodeError(err)) throw new CorruptImageError((err as Error).message);
      throw err;
    }
  }

  /** Renders every rendition again from the original (whose hash is its name) and records them. */
  private async repair(hash: string, { meta, layout }: Entry): Promise<boolean> {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.fileOf(hash, `original.${MIME_EXT[meta.mime] ?? ''}`, layout));
    } catch {
      return false;
    }
    if (sha256(bytes) !== hash) return false;
    const files = await this.render(bytes, (name) => this.fileOf(hash, name, layout));
    writeInPlace(this.fileOf(hash, 'meta.json', layout), JSON.stringify({ ...meta, files } satisfies Meta));
    return true;
  }

  /** A stored picture's meta.json and layout: read where new entries are, then where old ones were (no stat first). */
  private entry(hash: string): Entry | null {
    for (const layout of LAYOUTS) {
      const meta = this.readMetaIn(hash, layout);
      if (meta) return { meta, layout };
    }
    return null;
  }

  private readMetaIn(hash: string, layout: Layout): Meta | null {
    try {
      const meta = JSON.parse(fs.readFileSync(this.fileOf(hash, 'meta.json', layout), 'utf8')) as Meta;
      return meta && typeof meta === 'object' && meta.hash === hash && typeof meta.mime === 'string' ? meta : null;
    } catch {
      return null; // absent or damaged: put() replaces the entry
    }
  }
}

/** a picture's name in the store: the sha256 of its bytes, in hex */
const SHA256_HEX = /^[0-9a-f]{64}$/;

const LAYOUTS = ['flat', 'folder'] as const;
type Layout = (typeof LAYOUTS)[number];
interface Entry {
  meta: Meta;
  layout: Layout;
}

function renditionName(size: number, format: ImageFormat): string {
  return `${size}.${format === 'jpeg' ? 'jpg' : 'webp'}`;
}

/** each stored type's file extension, by MIME type */
const MIME_EXT: Record<string, string> = Object.fromEntries(Object.values(MIME).map(({ mime, ext }) => [mime, ext]));

/** Writes a file under a temporary name beside it, then renames it into place (the temporary file removed only on failure). */
function writeInPlace(file: string, data: Buffer | string): void {
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(temp, data);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

function isDecodeError(err: unknown): boolean {
  return err instanceof Error && /(corrupt|premature|invalid|unsupported|bad|vips)/i.test(err.message);
}
