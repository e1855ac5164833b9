// `npm run build` (also run by `npm ci` through `prepare`): bundles the command and its two
// worker-thread entry points into dist/ with esbuild. Loading the TypeScript compiler's output
// meant ~600 ES modules at every start (Kysely alone is 262, zod 95): `soniquebay --version`
// spent most of its 0.5 s compiling and linking them. Bundled, the start loads a few files.
// Type checking is `npm run typecheck` (tsc); esbuild only strips types.
//
// - Bundled (BUNDLED): the packages every command loads, and music-metadata with the packages it
//   imports (a scan's parse thread loaded its ~130 ES modules one by one from node_modules: 70-100
//   ms of every first scan's start, 20 ms bundled; they go into a chunk loaded on the first parse).
//   shared_tag_mappers.ts reaches music-metadata's CombinedTagMapper by URL in node_modules; the
//   bundled copy is pointed at the bundled module instead (BUNDLED_MAPPER_IMPORT), and the build
//   fails unless that module is the one the parser uses. The other packages stay in node_modules
//   and load when a command needs them: native addons (better-sqlite3, sharp, usearch), packages
//   that read their own files at run time (bullmq's Lua scripts, the Swagger UI and Bull Board
//   pages), and the ones loaded lazily (fastify, pg, ioredis, chokidar, the audio decoders).
// - zod's error-message translations (40 locales, half of zod's size) are left out; its English
//   messages, the only ones the project shows, are kept.
// - string-width builds an Intl.Segmenter while its module loads: ICU's break rules, 8-15 ms of
//   every command's start, for tables and a terminal's status line most commands never print. The
//   bundled copy builds it on its first use (same segmenter, same widths); docs/development.md.
// - Output layout: entry points at their path under src/ (dist/cli.js,
//   dist/workers/scan/parse_thread.js, dist/workers/scan/walk_thread.js, dist/services/analysis/thread.js),
//   shared and lazily loaded code in chunks at the root of dist/, and the dashboard's files in
//   dist/api/dashboard/; see src/shipped.ts, which finds the threads and the dashboard from the
//   root of dist/.
import { build } from 'esbuild';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TAG_PARSER = ['music-metadata', 'strtok3', 'token-types', 'file-type', 'debug', 'ms', 'content-type', 'media-typer', 'uint8array-extras', 'win-guid', '@borewit/text-codec', '@tokenizer/token', '@tokenizer/inflate', 'ieee754'];
// pino and what it requires: ~25 CommonJS files, 40-45 CPU-ms to import from node_modules, 21 bundled
const LOGGER = ['pino', '@pinojs/redact', 'atomic-sleep', 'on-exit-leak-free', 'pino-abstract-transport', 'pino-std-serializers', 'process-warning', 'quick-format-unescaped', 'real-require', 'safe-stable-stringify', 'sonic-boom', 'thread-stream'];
// better-sqlite3's JavaScript (14 CommonJS files, ~11 ms of every start from node_modules); its
// addon is loaded by path (src/db/sqlite.ts), so the bundled `bindings` is never called
const SQLITE = ['better-sqlite3', 'bindings', 'file-uri-to-path'];
const BUNDLED = new Set(['kysely', 'zod', 'commander', 'croner', 'string-width', 'strip-ansi', 'ansi-regex', 'emoji-regex', 'get-east-asian-width', ...TAG_PARSER, ...LOGGER, ...SQLITE]);
/** packages a bundled one asks for inside a try, and does without (debug's colours) */
const OPTIONAL = new Set(['supports-color']);
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
/** the package a file in node_modules belongs to (undefined outside node_modules) */
const packageOfFile = (file) => /(?:^|[\\/])node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file)?.[1]?.replace('\\', '/');

// music-metadata's own CombinedTagMapper module, by file (its package exports only its index)
const MAPPER_FILE = fileURLToPath(new URL('./common/CombinedTagMapper.js', import.meta.resolve('music-metadata')));
const MAPPER_URL_IMPORT = "import(new URL('./common/CombinedTagMapper.js', import.meta.resolve('music-metadata')).href)";
const BUNDLED_MAPPER_IMPORT = "import('soniquebay:combined-tag-mapper')";

const selectPackages = {
  name: 'select-packages',
  setup(b) {
    b.onResolve({ filter: /^soniquebay:combined-tag-mapper$/ }, () => ({ path: MAPPER_FILE }));
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || BUNDLED.has(packageOf(args.path))) return undefined;
      // a bundled package importing one that is not would load a second copy at run time
      const importer = packageOfFile(args.importer);
      if (importer && BUNDLED.has(importer) && !builtinModules.includes(args.path) && !OPTIONAL.has(args.path)) throw new Error(`${importer} (bundled) imports ${args.path}, which is not: add it to BUNDLED in scripts/build.mjs`);
      return { path: args.path, external: true };
    });
    b.onLoad({ filter: /[\\/]src[\\/]workers[\\/]scan[\\/]shared_tag_mappers\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      if (!source.includes(MAPPER_URL_IMPORT)) throw new Error(`${args.path}: no "${MAPPER_URL_IMPORT}" to point at the bundled module (check scripts/build.mjs)`);
      return { contents: source.replace(MAPPER_URL_IMPORT, BUNDLED_MAPPER_IMPORT), loader: 'ts' };
    });
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: "export { default as en } from './en.js';", loader: 'js' }));
    b.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const eager = 'const segmenter = new Intl.Segmenter();';
      if (!source.includes(eager)) throw new Error(`${args.path}: no "${eager}" to make lazy (string-width changed: check scripts/build.mjs)`);
      return { contents: source.replace(eager, 'let graphemes; const segmenter = { segment: (text) => (graphemes ??= new Intl.Segmenter()).segment(text) };'), loader: 'js' };
    });
  },
};

fs.rmSync('dist', { recursive: true, force: true });
const result = await build({
  entryPoints: ['src/cli.ts', 'src/workers/scan/parse_thread.ts', 'src/workers/scan/walk_thread.ts', 'src/services/analysis/thread.ts'],
  outbase: 'src',
  outdir: 'dist',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [selectPackages],
  // the bundled CommonJS packages (commander) call require() for Node's own modules
  banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module'; const require = __sbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  // comments and whitespace out (names kept, so stack traces still name their functions): every
  // command starts by reading, decoding and parsing this code, and the comments' non-ASCII
  // characters made V8 hold whole files as two-byte strings; 2.15 → 1.50 MB, an unchanged 10k
  // rescan 572 → 503 ms and `--version` 284 → 274 ms (medians of 40, docs/benchmarks.md)
  minifyWhitespace: true,
  metafile: true,
});
// src/shipped.ts resolves paths from the root of dist/: its code must not be inlined into a thread entry point
for (const [output, { entryPoint, inputs }] of Object.entries(result.metafile.outputs)) {
  if (entryPoint && entryPoint !== 'src/cli.ts' && 'src/shipped.ts' in inputs) throw new Error(`${output}: src/shipped.ts was bundled into a thread entry point (see its header)`);
}
// the tag mappers shared_tag_mappers.ts shares must be the ones music-metadata's parser uses: one
// module, imported by both (a second copy would leave every parse building its own)
const importersOfMapper = Object.entries(result.metafile.inputs).filter(([, { imports }]) => imports.some((i) => path.resolve(i.path) === MAPPER_FILE)).map(([file]) => file);
if (!importersOfMapper.some((f) => f.endsWith('shared_tag_mappers.ts')) || !importersOfMapper.some((f) => packageOfFile(f) === 'music-metadata')) {
  throw new Error(`CombinedTagMapper.js is not one module shared by music-metadata and shared_tag_mappers.ts (importers: ${importersOfMapper.join(', ') || 'none'})`);
}
fs.cpSync('src/api/dashboard', 'dist/api/dashboard', { recursive: true });
