// Files that ship beside the code: the thread entry points and the dashboard's static files.
// Run from the TypeScript sources (tsx: tests, benches, `npm run soniquebay`) this module is
// src/shipped.ts; built (scripts/build.mjs), it is bundled into a file at the root of dist/, where
// the build puts each of those files at its path under src/ (threads compiled to .js).
import { Worker, type ResourceLimits } from 'node:worker_threads';

const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** The URL of a shipped file, given its path under src/ ('workers/scan/parse_thread.ts'). */
export function shippedUrl(pathUnderSrc: string): URL {
  return new URL(FROM_SOURCES ? pathUnderSrc : pathUnderSrc.replace(/\.ts$/, '.js'), import.meta.url);
}

/**
 * A worker thread running a shipped entry point ('workers/scan/parse_thread.ts'). Run from the
 * TypeScript sources, the thread first registers tsx itself (Node 20 threads do not inherit the
 * parent's `--import tsx`), and gets twice the old-generation room, for the compiler.
 */
export function startShippedThread(pathUnderSrc: string, limits: ResourceLimits, workerData?: unknown): Worker {
  const entry = shippedUrl(pathUnderSrc);
  if (!FROM_SOURCES) return new Worker(entry, { resourceLimits: limits, workerData });
  const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry.href)});`;
  const old = limits.maxOldGenerationSizeMb;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { resourceLimits: { ...limits, ...(old ? { maxOldGenerationSizeMb: 2 * old } : {}) }, workerData });
}
