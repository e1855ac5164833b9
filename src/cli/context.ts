import fs from 'node:fs';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { sqliteFileFor } from '../db/open.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { cliLogger, type LogFormat } from './output.js';

interface GlobalOptions {
  config?: string;
  json?: boolean;
  logFormat?: LogFormat;
  init?: boolean;
}

/** variables only `serve` (and `config`, which shows everything) reads: a bad one must not stop `library stats` */
const API_VARIABLES = ['SONIQUEBAY_API_HOST', 'SONIQUEBAY_API_PORT', 'SONIQUEBAY_API_TOKEN'];

/** The config named by the global --config option (or SONIQUEBAY_CONFIG) and the environment. */
export function configOf(command: Command, uses: { api?: boolean } = {}): Config {
  const { config } = command.optsWithGlobals<GlobalOptions>();
  const env = uses.api ? process.env : Object.fromEntries(Object.entries(process.env).filter(([k]) => !API_VARIABLES.includes(k)));
  return loadConfig(env, config);
}

/** Readable lines on a terminal; JSON lines with --json or --log-format json, or when stderr is not a terminal. */
export function logFormatOf(command: Command): LogFormat {
  const { json, logFormat } = command.optsWithGlobals<GlobalOptions>();
  if (logFormat) return logFormat;
  if (json) return 'json';
  return process.stderr.isTTY === true ? 'human' : 'json';
}

/** Short commands log `level` (warnings) and worse unless SONIQUEBAY_LOG_LEVEL asks for something else. */
export function loggerOf(command: Command, config: Config, level: string | null = 'warn'): Logger {
  return cliLogger(level && !process.env.SONIQUEBAY_LOG_LEVEL ? level : config.logLevel, logFormatOf(command));
}

export class NoLibraryError extends Error {}

/**
 * Commands that read the library refuse a data folder that holds none (a mistyped
 * SONIQUEBAY_DATA_DIR would otherwise silently create an empty database); --init creates one.
 */
export function requireLibrary(command: Command, config: Config, needs: Needs): void {
  if (needs === 'nothing' || command.optsWithGlobals<GlobalOptions>().init) return;
  // in PostgreSQL, or with the jobs in Redis, there is no file to look for
  if (config.databaseUrl || (needs === 'queue' && config.brokerUrl)) return;
  const file = sqliteFileFor(config.dataDir);
  if (!fs.existsSync(file)) {
    throw new NoLibraryError(`no library in ${config.dataDir} (${file} does not exist; check SONIQUEBAY_DATA_DIR): \`soniquebay scan <folder>\` creates one, --init creates an empty one`);
  }
}

/** The runtime of a command that works on an existing library. */
/** what a command reads: the library, only the job queue (`jobs`), or nothing yet (`enqueue` may start a library) */
export type Needs = 'library' | 'queue' | 'nothing';

export async function openLibrary(command: Command, level = 'warn', needs: Needs = 'library'): Promise<Runtime> {
  const config = configOf(command);
  requireLibrary(command, config, needs);
  return openRuntime(config, loggerOf(command, config, level));
}

/** Opens the library for a short command, runs `fn`, always closes it. */
export async function withRuntime<T>(command: Command, fn: (runtime: Runtime) => Promise<T>, needs: Needs = 'library'): Promise<T> {
  const runtime = await openLibrary(command, 'warn', needs);
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}
