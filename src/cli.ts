// The `soniquebay` command.
import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from './config.js';
import { analyzeCommand, trackCommand } from './cli/analyze.js';
import { configCommand } from './cli/config.js';
import { coversCommand } from './cli/covers.js';
import { enqueueCommand } from './cli/enqueue.js';
import { jobsCommand } from './cli/jobs.js';
import { libraryCommand, tracksCommand } from './cli/library.js';
import { scanCommand } from './cli/scan.js';
import { tasksCommand } from './cli/tasks.js';
import { pathCommand, playlistCommand, similarCommand, vectorsCommand } from './cli/vectors.js';
import { runCommand, serveCommand, workerCommand } from './cli/worker.js';

export function buildProgram(): Command {
  const program = new Command('soniquebay')
    .description('SoniqueBay worker: scans music folders and keeps the library database, covers, analysis and vectors up to date')
    .option('--config <file>', 'JSON config file (also SONIQUEBAY_CONFIG)')
    .addOption(new Option('--log-format <format>', 'logs on stderr: readable lines (default on a terminal) or JSON lines (default otherwise, and with --json)').choices(['human', 'json']))
    .option('--init', 'let a command that reads the library create an empty one where none exists')
    .version((createRequire(import.meta.url)('../package.json') as { version: string }).version, '-V, --version', 'the version of soniquebay')
    .showHelpAfterError()
    .exitOverride();
  for (const command of [scanCommand(), coversCommand(), analyzeCommand(), runCommand(), serveCommand(), workerCommand(), enqueueCommand(), jobsCommand(), libraryCommand(), tracksCommand(), trackCommand(), similarCommand(), playlistCommand(), pathCommand(), vectorsCommand(), tasksCommand(), configCommand()]) {
    program.addCommand(command.exitOverride());
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}

// `soniquebay tracks | head`: a closed pipe ends the output, not the program with a stack trace
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const code = await main(process.argv);
process.exitCode = code;
