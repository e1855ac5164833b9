// The image store: content-addressed folders on disk (sha256 of the original bytes), each holding
// the original once and its renditions at the configured sizes in WebP and JPEG. No image bytes
// ever go into a job payload or a database row.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Metadata } from 'sharp';

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

/** sharp (libvips, ~0.15 CPU-s to load) on the first picture, not at every command start */
let sharpModule: Promise<typeof import('sharp')> | undefined;
async function loadSharp(): Promise<typeof import('sharp')['default']> {
  sharpModule ??= import('sharp');
  return (await sharpModule).default;
}

export class CorruptImageError extends Error {
  constructor(reason: string) {
    super(`not a readable image: ${reason}`);
    this.name = 'CorruptImageError';
  }
}

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

  /** Stores a picture once per content; renders every size. Throws CorruptImageError for bad bytes. */
  async put(bytes: Buffer): Promise<StoredImage> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const folder = this.folderOf(hash);
    const known = this.readMeta(hash);
    if (known) return { ...known, created: false };

    const sharp = await loadSharp();
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
    } catch (err) {
      throw new CorruptImageError(err instanceof Error ? err.message : String(err));
    }
    const kind = meta.format ? MIME[meta.format] : undefined;
    if (!kind || !meta.width || !meta.height) throw new CorruptImageError(`unsupported format ${meta.format ?? 'unknown'}`);

    // built in a temporary folder and renamed into place: a crash never leaves half an entry
    fs.mkdirSync(path.dirname(folder), { recursive: true });
    const temp = `${folder}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.mkdirSync(temp);
    try {
      fs.writeFileSync(path.join(temp, `original.${kind.ext}`), bytes);
      const oriented = meta.orientation && meta.orientation >= 5 ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
      await this.render(bytes, temp);
      const stored = { hash, mime: kind.mime, width: oriented.width, height: oriented.height, bytes: bytes.length };
      fs.writeFileSync(path.join(temp, 'meta.json'), JSON.stringify(stored));
      try {
        fs.renameSync(temp, folder);
      } catch (err) {
        // another worker stored the same picture first: theirs stands
        if (!this.readMeta(hash)) throw err;
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
  private async render(bytes: Buffer, folder: string): Promise<void> {
    const sharp = await loadSharp();
    const largest = this.sizes[this.sizes.length - 1]!;
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_PIXELS })
      .rotate()
      .resize(largest, largest, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    await Promise.all(
      this.sizes.map(async (size) => {
        const resized = sharp(data, raw).resize(size, size, { fit: 'inside', withoutEnlargement: true });
        await Promise.all([
          resized.clone().webp({ quality: 80 }).toFile(path.join(folder, `${size}.webp`)),
          resized.clone().flatten({ background: '#ffffff' }).jpeg({ quality: 85 }).toFile(path.join(folder, `${size}.jpg`)),
        ]);
      }),
    );
  }

  private readMeta(hash: string): Omit<StoredImage, 'created'> | null {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.folderOf(hash), 'meta.json'), 'utf8')) as Omit<StoredImage, 'created'>;
    } catch {
      return null;
    }
  }
}

function isDecodeError(err: unknown): boolean {
  return err instanceof Error && /(corrupt|premature|invalid|unsupported|bad|vips)/i.test(err.message);
}
