// Streams a library tree one folder at a time: memory grows with the number of folders waiting to
// be visited, never with the number of files. Hidden entries are skipped; symbolic links are
// followed only when their target lies inside the root, and every real folder is visited once.
import fs from 'node:fs';
import path from 'node:path';
import { isInside } from '../../services/library/roots.js';

export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.mp3', '.flac', '.m4a', '.mp4', '.aac', '.alac', '.ogg', '.oga', '.opus', '.wav',
  '.aiff', '.aif', '.wma', '.wv', '.ape', '.dsf', '.mpc',
]);

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
}

/**
 * Yields every folder under `root` (root included), depth first, entries in name order.
 * `realRoot` is the root with its own links resolved: what "inside the root" means.
 */
export async function* walkFolders(root: string, realRoot: string): AsyncGenerator<FolderListing> {
  const visited = new Set<string>();
  const stack: { dir: string; real: string }[] = [{ dir: root, real: realRoot }];
  while (stack.length > 0) {
    const { dir, real } = stack.pop()!;
    if (visited.has(real)) continue;
    visited.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      yield { dir, files: [], subdirs: [], unreadable: [], error: describe(err) };
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const listing: FolderListing = { dir, files: [], subdirs: [], unreadable: [] };
    const children: { dir: string; real: string }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let childReal = path.join(real, entry.name);
      if (entry.name.includes('\ufffd') && !fs.existsSync(full)) {
        // Linux names are bytes: one that is not UTF-8 reaches us with U+FFFD and cannot be opened
        // by that string; reported so that the user can rename it
        if (isAudioFile(entry.name)) listing.unreadable.push({ path: full, message: NOT_UTF8 });
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
          if (isAudioFile(entry.name)) listing.unreadable.push({ path: full, message: unreadableReason(full, err) });
          continue;
        }
        if (!isInside(realRoot, childReal)) continue;
      }
      if (!isDir && !isFile && isAudioFile(entry.name) && (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice() || entry.isSymbolicLink())) {
        // reading a named pipe called "x.mp3" would block forever
        listing.unreadable.push({ path: full, message: 'not a regular file (pipe, socket or device)' });
        continue;
      }
      if (isDir) {
        listing.subdirs.push(entry.name);
        children.push({ dir: full, real: childReal });
      } else if (isFile && isAudioFile(entry.name)) {
        try {
          const stat = fs.statSync(full);
          listing.files.push({ path: full, name: entry.name, size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs) });
        } catch (err) {
          listing.unreadable.push({ path: full, message: describe(err) });
        }
      }
    }
    // pushed in reverse so that folders come out in name order
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    yield listing;
  }
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
