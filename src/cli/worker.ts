import { Command } from 'commander';
import { parseConcurrencyFlag } from '../config.js';
import { openRuntime, runnableSchedules, type Runtime } from '../runtime.js';
import { QUEUE_NAMES } from '../tasks.js';
import { configOf } from './context.js';

interface ProcessOptions {
  queues?: readonly string[];
  concurrency?: Record<string, number>;
  schedules: boolean;
}

/** Runs until SIGINT/SIGTERM: consumes queues (and fires periodic tasks), then shuts down cleanly. */
async function serve(runtime: Runtime, options: ProcessOptions): Promise<void> {
  const { broker, logger, config } = runtime;
  const worker = await broker.startWorker({
    ...(options.queues ? { queues: options.queues } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  const scheduler = options.schedules ? await broker.startScheduler(runnableSchedules(runtime)) : undefined;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: running jobs get the grace period, then go back to their queue');
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  logger.info({ broker: broker.kind, database: runtime.database.dialect, queues: worker.queues, dataDir: config.dataDir }, 'worker started');
  await stopped;
  await scheduler?.close();
  await worker.close(config.shutdownGraceMs);
  await runtime.close();
  logger.info('worker stopped');
}

export function runCommand(): Command {
  return new Command('run')
    .description('everything in one process: all queues and the periodic tasks (embedded default: SQLite, no Redis)')
    .action(async (_opts: unknown, command: Command) => {
      const runtime = await openRuntime(configOf(command));
      await serve(runtime, { schedules: true });
    });
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('a worker process consuming chosen queues (distributed mode: SONIQUEBAY_BROKER_URL=redis://…)')
    .option('--queues <list>', `comma-separated queues (default: all of ${QUEUE_NAMES.join(',')})`)
    .option('--concurrency <list>', 'per-queue concurrency, e.g. extract=4,covers=2')
    .option('--no-schedules', 'do not fire periodic tasks from this process')
    .action(async (opts: { queues?: string; concurrency?: string; schedules: boolean }, command: Command) => {
      const queues = opts.queues?.split(',').map((q) => q.trim()).filter(Boolean);
      const unknown = queues?.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q)) ?? [];
      if (unknown.length > 0) throw new Error(`--queues: unknown queue(s) ${unknown.join(', ')} (known: ${QUEUE_NAMES.join(', ')})`);
      const concurrency = opts.concurrency ? parseConcurrencyFlag(opts.concurrency) : undefined;
      const runtime = await openRuntime(configOf(command));
      await serve(runtime, { ...(queues ? { queues } : {}), ...(concurrency ? { concurrency: concurrency as Record<string, number> } : {}), schedules: opts.schedules });
    });
}

