// What a command line asks for, read before the program is loaded (src/cli.ts): which command's
// module to load, and which folder `scan` will walk. Commander parses the line for real afterwards.

/** the program's options that take a value: the word after them is not the command */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config', '--log-format']);

/** The position of the command a command line names: its first word that is neither an option nor an option's value. */
function commandIndex(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return -1;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return i;
  }
  return -1;
}

/** The command a command line names (`args`: the words after the program's name). */
export function commandName(args: readonly string[]): string | undefined {
  const i = commandIndex(args);
  return i < 0 ? undefined : args[i];
}

/**
 * The folder of `soniquebay scan <dir>` when the command runs its own worker (no --no-worker):
 * its first word after `scan` that is not an option (scan's options take no value); not for the
 * `cancel` subcommand nor for help. A word that names no folder starts no walk (prefetchWalk).
 */
export function scanFolderOf(args: readonly string[]): string | undefined {
  const i = commandIndex(args);
  if (i < 0 || args[i] !== 'scan') return undefined;
  const rest = args.slice(i + 1);
  if (rest.includes('--no-worker') || rest.includes('--help') || rest.includes('-h') || rest.includes('--')) return undefined;
  const dir = rest.find((arg) => !arg.startsWith('-'));
  return dir === undefined || dir === 'cancel' || dir === 'help' ? undefined : dir;
}
