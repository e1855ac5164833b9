// Files that ship beside the code: the thread entry points and the dashboard's static files.
// Run from the TypeScript sources (tsx: tests, benches, `npm run soniquebay`) this module is
// src/shipped.ts; built (scripts/build.mjs), it is bundled into a file at the root of dist/, where
// the build puts each of those files at its path under src/ (threads compiled to .js).
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** Whether the code runs from the TypeScript sources (a worker thread must then register tsx itself). */
export function runningFromSources(): boolean {
  return FROM_SOURCES;
}

/** The URL of a shipped file, given its path under src/ ('workers/scan/parse_thread.ts'). */
export function shippedUrl(pathUnderSrc: string): URL {
  return new URL(FROM_SOURCES ? pathUnderSrc : pathUnderSrc.replace(/\.ts$/, '.js'), import.meta.url);
}
