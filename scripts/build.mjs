// `npm run build` (also run by `npm ci` through `prepare`): bundles the command and its two
// worker-thread entry points into dist/ with esbuild. Loading the TypeScript compiler's output
// meant ~600 ES modules at every start (Kysely alone is 262, zod 95): `soniquebay --version`
// spent most of its 0.5 s compiling and linking them. Bundled, the start loads a few files.
// Type checking is `npm run typecheck` (tsc); esbuild only strips types.
//
// - Only the packages every command loads are bundled (BUNDLED); the others stay in node_modules
//   and load when a command needs them: native addons (better-sqlite3, sharp, usearch), packages
//   that read their own files at run time (bullmq's Lua scripts, the Swagger UI and Bull Board
//   pages, music-metadata, whose tag mappers shared_tag_mappers.ts reaches by URL), and the ones
//   loaded lazily (fastify, pg, ioredis, chokidar, the audio decoders).
// - zod's error-message translations (40 locales, half of zod's size) are left out; its English
//   messages, the only ones the project shows, are kept.
// - string-width builds an Intl.Segmenter while its module loads: ICU's break rules, 8-15 ms of
//   every command's start, for tables and a terminal's status line most commands never print. The
//   bundled copy builds it on its first use (same segmenter, same widths); docs/development.md.
// - Output layout: entry points at their path under src/ (dist/cli.js,
//   dist/workers/scan/parse_thread.js, dist/services/analysis/thread.js), shared and lazily loaded
//   code in chunks at the root of dist/, and the dashboard's files in dist/api/dashboard/; see
//   src/shipped.ts, which finds the threads and the dashboard from the root of dist/.
import { build } from 'esbuild';
import fs from 'node:fs';

const BUNDLED = new Set(['kysely', 'zod', 'commander', 'croner', 'string-width', 'strip-ansi', 'ansi-regex', 'emoji-regex', 'get-east-asian-width']);
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

const selectPackages = {
  name: 'select-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') || BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true }));
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
  entryPoints: ['src/cli.ts', 'src/workers/scan/parse_thread.ts', 'src/services/analysis/thread.ts'],
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
  metafile: true,
});
// src/shipped.ts resolves paths from the root of dist/: its code must not be inlined into a thread entry point
for (const [output, { entryPoint, inputs }] of Object.entries(result.metafile.outputs)) {
  if (entryPoint && entryPoint !== 'src/cli.ts' && 'src/shipped.ts' in inputs) throw new Error(`${output}: src/shipped.ts was bundled into a thread entry point (see its header)`);
}
fs.cpSync('src/api/dashboard', 'dist/api/dashboard', { recursive: true });
