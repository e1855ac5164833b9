import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { openRuntime, type Runtime } from '../runtime.js';

/** The config named by the global --config option (or SONIQUEBAY_CONFIG) and the environment. */
export function configOf(command: Command): Config {
  const { config } = command.optsWithGlobals<{ config?: string }>();
  return loadConfig(process.env, config);
}

/** Opens the runtime for a short command, runs `fn`, always closes it. Quiet unless a log level was asked for. */
export async function withRuntime<T>(command: Command, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const config = configOf(command);
  const runtime = await openRuntime(process.env.SONIQUEBAY_LOG_LEVEL ? config : { ...config, logLevel: 'warn' });
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}
