// Shared by the API fuzz (test/chaos/api-fuzz.test.ts): the routes an app really serves, and a
// record of every file system path the process touches while requests run.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, HTTPMethods } from 'fastify';

export interface RouteInfo {
  method: string;
  /** as registered: `/tracks/:id/similar`, `/docs/*` */
  url: string;
}

/**
 * Every method + URL the app serves, read from its own route tree (printRoutes), so that a route
 * added later is listed without touching the fuzz. Needs `app.ready()` first.
 */
export function listRoutes(app: FastifyInstance): RouteInfo[] {
  const routes: RouteInfo[] = [];
  // one tree node per line: an indent of 4 characters per level, the part of the URL this node adds
  // to its parent's, and the methods served at exactly this URL (none for a shared prefix)
  const tree = app.printRoutes();
  const prefixes: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!node) continue;
    const depth = node[1]!.length / 4;
    const url = (depth === 0 ? '' : prefixes[depth - 1]!) + node[2]!;
    prefixes[depth] = url;
    for (const method of node[3]?.split(', ') ?? []) routes.push({ method, url });
  }
  const misread = routes.filter((r) => !app.hasRoute({ method: r.method as HTTPMethods, url: r.url }));
  if (routes.length === 0 || misread.length > 0) throw new Error(`routes misread from printRoutes(): ${JSON.stringify(misread)}\n${tree}`);
  return routes;
}

export interface FileAccess {
  /** the fs function, e.g. `promises.stat`, `realpathSync.native` */
  op: string;
  /** absolute, as the caller named it (relative names resolved against the working directory) */
  path: string;
  /** what was running: the request being fuzzed */
  during: string;
}

/** fs functions that name a path to read or look at (writes are not what this watches) */
const FS_FUNCTIONS = [
  'access', 'accessSync', 'exists', 'existsSync', 'open', 'openSync', 'openAsBlob', 'readFile', 'readFileSync', 'stat', 'statSync',
  'lstat', 'lstatSync', 'realpath', 'realpathSync', 'readdir', 'readdirSync', 'opendir', 'opendirSync', 'readlink', 'readlinkSync',
  'createReadStream', 'statfs', 'statfsSync', 'watch', 'watchFile', 'copyFile', 'copyFileSync', 'cp', 'cpSync',
] as const;
const PROMISE_FUNCTIONS = ['access', 'open', 'readFile', 'stat', 'lstat', 'realpath', 'readdir', 'opendir', 'readlink', 'statfs', 'watch', 'copyFile', 'cp'] as const;

/** the real path, taken before any wrapper is installed */
const realpathNative = fs.realpathSync.native;

function pathArgument(arg: unknown): string | null {
  if (typeof arg === 'string') return arg;
  if (Buffer.isBuffer(arg)) return arg.toString('utf8');
  if (arg instanceof URL) {
    if (arg.protocol !== 'file:') return null;
    try {
      return fileURLToPath(arg);
    } catch {
      return decodeURIComponent(arg.pathname);
    }
  }
  return null; // a file descriptor: its path was recorded when it was opened
}

/**
 * Wraps the fs functions that read or look at a path (callback, sync and promise forms; `.native`
 * of realpath too) and re-syncs the ESM named exports of node:fs and node:fs/promises, so that
 * `import fs from 'node:fs'`, `import { stat } from 'node:fs/promises'` and CommonJS `require('fs')`
 * all go through the wrappers. `restore()` puts the originals back.
 */
export function recordFileAccess(during: () => string): { accesses: FileAccess[]; restore(): void } {
  const accesses: FileAccess[] = [];
  const undo: (() => void)[] = [];
  const wrapper = (original: (...args: unknown[]) => unknown, op: string) => {
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const named = pathArgument(args[0]);
      // fs refuses a name with a NUL byte before it touches the disk
      if (named !== null && !named.includes('\0')) accesses.push({ op, path: path.resolve(named), during: during() });
      return original.apply(this, args);
    };
    // keep what hangs off the function: realpath's `.native`, exists' promisify.custom
    for (const key of Reflect.ownKeys(original)) {
      if (key === 'length' || key === 'name' || key === 'prototype') continue;
      const value = (original as unknown as Record<PropertyKey, unknown>)[key];
      (wrapped as unknown as Record<PropertyKey, unknown>)[key] = key === 'native' && typeof value === 'function' ? wrapper(value as (...args: unknown[]) => unknown, `${op}.native`) : value;
    }
    return wrapped;
  };
  const install = (owner: Record<string, unknown>, names: readonly string[], prefix: string) => {
    for (const name of names) {
      const original = owner[name];
      if (typeof original !== 'function') continue;
      owner[name] = wrapper(original as (...args: unknown[]) => unknown, prefix + name);
      undo.push(() => (owner[name] = original));
    }
  };
  install(fs as unknown as Record<string, unknown>, FS_FUNCTIONS, '');
  install(fs.promises as unknown as Record<string, unknown>, PROMISE_FUNCTIONS, 'promises.');
  syncBuiltinESMExports();
  return {
    accesses,
    restore() {
      for (const step of undo.reverse()) step();
      syncBuiltinESMExports();
    },
  };
}

/** ops that look at a link itself, or resolve it without reading the target: judged by the name given */
const LINK_OPS = /^(?:promises\.)?(?:lstat|readlink|realpath)(?:Sync)?(?:\.native)?$/;

/** the real path of `p`: its deepest existing ancestor resolved (links followed), the rest appended */
export function realPathOf(p: string): string {
  const rest: string[] = [];
  for (let current = p; ; current = path.dirname(current)) {
    try {
      return path.join(realpathNative(current), ...rest.reverse());
    } catch {
      if (current === path.dirname(current)) return p;
      rest.push(path.basename(current));
    }
  }
}

export function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

/**
 * The accesses that reach outside `allowed` (real paths of folders): by the name given, and, for
 * every op that follows links, by where the name really leads (a link inside a root pointing out).
 */
export function accessesOutside(accesses: readonly FileAccess[], allowed: readonly string[]): FileAccess[] {
  const ok = (p: string) => allowed.some((dir) => isInside(p, dir));
  const seen = new Map<string, boolean>();
  return accesses.filter((access) => {
    const key = `${LINK_OPS.test(access.op)}\0${access.path}`;
    let outside = seen.get(key);
    if (outside === undefined) {
      outside = LINK_OPS.test(access.op) ? !ok(access.path) : !ok(realPathOf(access.path));
      seen.set(key, outside);
    }
    return outside;
  });
}
