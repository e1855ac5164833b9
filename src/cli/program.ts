// The `soniquebay` program: its options and commands (src/cli.ts runs it).
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../config.js';
import { commandName } from './command_line.js';

// Each command's module is imported only when the command line names that command; help, an
// unknown command and `help <command>` load them all, in this order; `--version` none (16 % fewer
// instructions for `--version` under callgrind; the other commands load nearly the same code).
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ['scan', async () => (await import('./scan.js')).scanCommand()],
  ['covers', async () => (await import('./covers.js')).coversCommand()],
  ['analyze', async () => (await import('./analyze.js')).analyzeCommand()],
  ['run', async () => (await import('./worker.js')).runCommand()],
  ['serve', async () => (await import('./worker.js')).serveCommand()],
  ['worker', async () => (await import('./worker.js')).workerCommand()],
  ['enqueue', async () => (await import('./enqueue.js')).enqueueCommand()],
  ['jobs', async () => (await import('./jobs.js')).jobsCommand()],
  ['library', async () => (await import('./library.js')).libraryCommand()],
  ['tracks', async () => (await import('./library.js')).tracksCommand()],
  ['track', async () => (await import('./analyze.js')).trackCommand()],
  ['similar', async () => (await import('./vectors.js')).similarCommand()],
  ['playlist', async () => (await import('./vectors.js')).playlistCommand()],
  ['path', async () => (await import('./vectors.js')).pathCommand()],
  ['vectors', async () => (await import('./vectors.js')).vectorsCommand()],
  ['tasks', async () => (await import('./tasks.js')).tasksCommand()],
  ['config', async () => (await import('./config.js')).configCommand()],
];

/** The program with the commands `args` (the words after the program's name) may need. */
export async function buildProgram(args: readonly string[], version: string): Promise<Command> {
  const program = new Command('soniquebay')
    .description('SoniqueBay worker: scans music folders and keeps the library database, covers, analysis and vectors up to date')
    .option('--config <file>', 'JSON config file (also SONIQUEBAY_CONFIG)')
    .addOption(new Option('--log-format <format>', 'logs on stderr: readable lines (default on a terminal) or JSON lines (default otherwise, and with --json)').choices(['human', 'json']))
    .option('--init', 'let a command that reads the library create an empty one where none exists')
    .version(version, '-V, --version', 'the version of soniquebay')
    .showHelpAfterError()
    .exitOverride();
  const name = commandName(args);
  const named = COMMANDS.find(([command]) => command === name);
  // `soniquebay --version` needs no command at all
  const versionOnly = name === undefined && args.some((arg) => arg === '-V' || arg === '--version') && !args.some((arg) => arg === '-h' || arg === '--help');
  for (const [, load] of named ? [named] : versionOnly ? [] : COMMANDS) program.addCommand((await load()).exitOverride());
  return program;
}

/** Runs the command line `argv` (process.argv's layout); the exit code. */
export async function main(argv: readonly string[], version: string): Promise<number> {
  try {
    await (await buildProgram(argv.slice(2), version)).parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
