// The `soniquebay` command. This module loads little: `scan <dir>` starts walking <dir> in a thread
// first (walk_prefetch.ts), then the program loads while the walk goes on.
import { createRequire } from 'node:module';
import path from 'node:path';
import { scanFolderOf } from './cli/command_line.js';
import { prefetchWalk } from './workers/scan/walk_prefetch.js';

// `soniquebay tracks | head`: a closed pipe ends the output, not the program with a stack trace
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const folder = scanFolderOf(process.argv.slice(2));
if (folder !== undefined) prefetchWalk(path.resolve(folder));
const { version } = createRequire(import.meta.url)('../package.json') as { version: string };
const { main } = await import('./cli/program.js');
process.exitCode = await main(process.argv, version);
