// Streams a library tree one folder at a time: memory grows with the number of folders waiting to
// be visited, never with the number of files or folders. Hidden entries are skipped; symbolic links
// are followed only when their target lies inside the root, and every real folder is visited once.
import fs from 'node:fs';
import path from 'node:path';
import { isInside } from '../../services/library/roots.js';

/** Every audio container music-metadata or ffmpeg reads that a music library holds (docs/scan.md). */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.mp3', '.mp2', '.mp1', '.flac', '.m4a', '.m4b', '.mp4', '.aac', '.alac', '.ogg', '.oga', '.opus', '.spx',
  '.wav', '.bwf', '.rf64', '.aiff', '.aif', '.aifc', '.wma', '.wv', '.ape', '.dsf', '.dff', '.mpc', '.mp+',
  '.tta', '.mka', '.webm', '.weba',
]);

/** How a skipped file is counted: its extension, lower-cased ("" for none). */
export function extensionOf(name: string): string {
  return path.extname(name).toLowerCase();
}

export function isAudioFile(name: string): boolean {
  return AUDIO_EXTENSIONS.has(path.extname(name).toLowerCase());
}

export interface AudioFile {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
}

export interface FolderListing {
  dir: string;
  files: AudioFile[];
  /** names of the sub-folders that will be visited */
  subdirs: string[];
  /** set when the folder itself could not be listed */
  error?: string;
  /** audio files that could not be stat'ed (permissions, vanished): reported, not lost */
  unreadable: { path: string; message: string }[];
  /** files that are not audio, counted by extension (".mid" → 30): the scan summary says what it skipped */
  skipped: Record<string, number>;
}

/**
 * Where a walk stands: the folders still to visit, and the ones visited under a hidden folder.
 * After each folder it yields, a walk's state holds that folder's sub-folders: another walk given
 * the state goes on from there (walk_prefetch.ts hands a walk over from a thread).
 */
export interface WalkState {
  stack: { dir: string; real: string; hidden: boolean }[];
  // Only folders under a hidden one, which a link alone leads to, are remembered (to break link
  // loops there): remembering every folder held 28 MiB of strings half-way through a million files.
  visitedHidden: Set<string>;
}

export function walkStart(root: string, realRoot: string): WalkState {
  return { stack: [{ dir: root, real: realRoot, hidden: false }], visitedHidden: new Set() };
}

/**
 * Yields every folder under `root` (root included), depth first, entries in name order, from
 * `state` on (the root itself by default). `realRoot` is the root with its own links resolved:
 * what "inside the root" means.
 */
export async function* walkFolders(root: string, realRoot: string, state: WalkState = walkStart(root, realRoot)): AsyncGenerator<FolderListing> {
  const { stack, visitedHidden } = state;
  while (stack.length > 0) {
    const { dir, real, hidden } = stack.pop()!;
    if (hidden) {
      if (visitedHidden.has(real)) continue;
      visitedHidden.add(real);
    }
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      yield { dir, files: [], subdirs: [], unreadable: [], skipped: {}, error: describe(err) };
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const listing: FolderListing = { dir, files: [], subdirs: [], unreadable: [], skipped: {} };
    const children: { dir: string; real: string; hidden: boolean }[] = [];
    // paths by concatenation (an entry's name holds no separator): path.join normalises each one anew
    const prefix = withSeparator(dir);
    const realPrefix = withSeparator(real);
    for (const entry of entries) {
      const name = entry.name;
      if (name.startsWith('.')) continue;
      const full = prefix + name;
      const audio = isAudioFile(name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let childReal: string | undefined;
      let childHidden = hidden;
      if (name.includes('\ufffd') && !fs.existsSync(full)) {
        // Linux names are bytes: one that is not UTF-8 reaches us with U+FFFD and cannot be opened
        // by that string; reported so that the user can rename it
        if (audio) listing.unreadable.push({ path: full, message: NOT_UTF8 });
        continue;
      }
      if (entry.isSymbolicLink()) {
        try {
          childReal = fs.realpathSync(full);
          const target = fs.statSync(childReal);
          isDir = target.isDirectory();
          isFile = target.isFile();
        } catch (err) {
          // a link to a track on an unplugged disk is worth telling about; other dead links are not
          if (audio) listing.unreadable.push({ path: full, message: unreadableReason(full, err) });
          continue;
        }
        if (!isInside(realRoot, childReal)) continue;
        // a linked folder the walk reaches by itself is visited there, by its real path, once
        childHidden = underHiddenFolder(realRoot, childReal);
        if (isDir && !childHidden) continue;
      }
      if (!isDir && !isFile && audio && (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice() || entry.isSymbolicLink())) {
        // reading a named pipe called "x.mp3" would block forever
        listing.unreadable.push({ path: full, message: 'not a regular file (pipe, socket or device)' });
        continue;
      }
      if (isDir) {
        listing.subdirs.push(name);
        children.push({ dir: full, real: childReal ?? realPrefix + name, hidden: childHidden });
      } else if (isFile && audio) {
        try {
          const stat = fs.statSync(full);
          listing.files.push({ path: full, name, size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs) });
        } catch (err) {
          listing.unreadable.push({ path: full, message: describe(err) });
        }
      } else if (isFile) {
        const ext = extensionOf(name);
        listing.skipped[ext] = (listing.skipped[ext] ?? 0) + 1;
      }
    }
    // pushed in reverse so that folders come out in name order
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    yield listing;
  }
}

function withSeparator(dir: string): string {
  return dir.endsWith(path.sep) ? dir : dir + path.sep;
}

/** Whether a folder inside the root lies under a hidden folder, which the walk enters only through a link. */
function underHiddenFolder(realRoot: string, real: string): boolean {
  return path.relative(realRoot, real).split(path.sep).some((part) => part.startsWith('.'));
}

const NOT_UTF8 = 'the file name is not valid UTF-8: rename the file to scan it';

/** Why a file could not be opened, in words a user can act on. */
export function unreadableReason(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'symbolic link loop: the link never reaches a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') {
    if (path.basename(file).includes('\ufffd')) return NOT_UTF8;
    let link = false;
    try {
      link = fs.lstatSync(file).isSymbolicLink();
    } catch {
      // gone altogether
    }
    return link ? 'broken symbolic link: its target does not exist (unplugged disk?)' : 'file disappeared before it could be read';
  }
  return `unreadable: ${err instanceof Error ? err.message : String(err)}`;
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'disappeared while scanning';
  return err instanceof Error ? err.message : String(err);
}
