import { Command } from 'commander';
import { celerySettings, type CelerySettings } from '../broker/celery/settings.js';
import { parseConcurrencyFlag, redactUrl } from '../config.js';
import { openRuntime, runnableSchedules, type Runtime } from '../runtime.js';
import { QUEUE_NAMES } from '../tasks.js';
import { DiskFullWatch, diskFullMessage, freeBytes } from '../db/disk_space.js';
import { configOf, loggerOf } from './context.js';
import { note } from './output.js';

interface ProcessOptions {
  queues?: readonly string[];
  concurrency?: Record<string, number>;
  schedules: boolean;
  /** false: no queue is consumed here (an API-only process) */
  worker?: boolean;
  /** the HTTP API and the dashboard, on this address */
  api?: { host: string; port: number; token?: string };
  /** watch the library roots and scan what changes */
  watch?: boolean;
  /** also answer Python Celery clients (the Celery bridge) */
  celery?: CelerySettings;
}

/** how often a worker on SQLite looks at the data folder's free space */
const DISK_WATCH_MS = 2_000;

/** Runs until SIGINT/SIGTERM: consumes queues (and fires periodic tasks), then shuts down cleanly. */
async function serve(runtime: Runtime, options: ProcessOptions): Promise<void> {
  const { broker, logger, config } = runtime;
  // the bridge (ioredis), the API (fastify, Bull Board) and the watcher (chokidar) are loaded only
  // by the processes that run them: every other command starts without paying for them
  // before the worker: if Celery's Redis refuses the bridge, the process stops with no job started
  const celery = options.celery ? await (await import('../broker/celery/bridge.js')).CeleryBridge.start({ ...options.celery, broker, registry: runtime.registry, logger, db: runtime.database.db }) : undefined;
  const startWorker = () =>
    broker.startWorker({
      ...(options.queues ? { queues: options.queues } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    });
  let worker = options.worker === false ? undefined : await startWorker();
  // SQLite in the data folder: on a full disk every job would fail (and be retried into the ground);
  // the worker pauses instead, says so once, and resumes when space is back
  const diskWatch = worker && !runtime.config.databaseUrl ? new DiskFullWatch(config.dataDir) : undefined;
  let paused = false;
  const diskTimer = diskWatch
    ? setInterval(() => {
        void (async () => {
          const full = diskWatch.full();
          if (full && !paused && worker) {
            paused = true;
            logger.error({ dataDir: config.dataDir }, `${diskFullMessage(config.dataDir)}: work paused until space is freed`);
            const stopping = worker;
            worker = undefined;
            await stopping.close(0).catch(() => undefined);
          } else if (!full && paused && freeBytes(config.dataDir) !== null) {
            paused = false;
            worker = await startWorker();
            logger.warn({ dataDir: config.dataDir }, 'disk space is back: work resumed');
          }
        })().catch((err: unknown) => logger.error({ err }, 'disk space watch failed'));
      }, DISK_WATCH_MS)
    : undefined;
  diskTimer?.unref();
  const scheduler = options.schedules ? await broker.startScheduler(runnableSchedules(runtime)) : undefined;
  const api = options.api ? await (await import('../api/server.js')).buildApi({ runtime, host: options.api.host, ...(options.api.token ? { token: options.api.token } : {}) }) : undefined;
  const watcher = options.watch ? new (await import('../services/watcher.js')).LibraryWatcher(runtime) : undefined;
  await watcher?.start();
  if (api && options.api) {
    const address = await api.listen({ host: options.api.host, port: options.api.port });
    logger.info({ address, docs: `${address}/docs` }, 'HTTP API listening');
    // for the person who started it (the log line above may be JSON, or filtered out by the level)
    if (process.stderr.isTTY) note(`dashboard: open ${address.replace('://0.0.0.0', '://127.0.0.1')}/ in a browser (API reference: ${address}/docs)`);
  }
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
  if (celery && options.celery) logger.info({ celeryBroker: redactUrl(options.celery.brokerUrl), celeryResults: redactUrl(options.celery.resultUrl) }, 'Celery bridge started');
  if (worker) logger.info({ broker: broker.kind, database: runtime.database.dialect, queues: worker.queues, dataDir: config.dataDir }, 'worker started');
  else logger.info({ broker: broker.kind, database: runtime.database.dialect, dataDir: config.dataDir }, 'API process started (its jobs run in the worker processes)');
  await stopped;
  clearInterval(diskTimer);
  await watcher?.close();
  await api?.close();
  await scheduler?.close();
  // together: the bridge's held messages finish while the worker still runs their jobs
  await Promise.all([celery?.close(config.shutdownGraceMs), worker?.close(config.shutdownGraceMs)]);
  await runtime.close();
  logger.info('worker stopped');
}

export function runCommand(): Command {
  return new Command('run')
    .description('everything in one process: all queues and the periodic tasks (embedded default: SQLite, no Redis)')
    .option('--watch', 'scan the library roots when files change in them (network mounts: periodic scans)')
    .action(async (opts: { watch?: boolean }, command: Command) => {
      const config = configOf(command);
      const runtime = await openRuntime(config, loggerOf(command, config, null));
      await serve(runtime, { schedules: true, watch: opts.watch === true });
    });
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('the HTTP API (OpenAPI at /docs) and live events; --embedded also runs every queue and the periodic tasks here')
    .option('--host <address>', 'address to listen on (a token is required off localhost: SONIQUEBAY_API_TOKEN)')
    .option('--port <n>', 'port to listen on')
    .option('--embedded', 'also consume every queue and fire the periodic tasks in this process')
    .option('--watch', 'scan the library roots when files change in them (network mounts: periodic scans)')
    .action(async (opts: { host?: string; port?: string; embedded?: boolean; watch?: boolean }, command: Command) => {
      const config = configOf(command, { api: true });
      const port = opts.port === undefined ? config.api.port : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be a port number, got "${opts.port}"`);
      const host = opts.host ?? config.api.host;
      const runtime = await openRuntime(config, loggerOf(command, config, null));
      await serve(runtime, { schedules: opts.embedded === true, worker: opts.embedded === true, watch: opts.watch === true, api: { host, port, ...(config.api.token ? { token: config.api.token } : {}) } });
    });
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('a worker process consuming chosen queues (distributed mode: SONIQUEBAY_BROKER_URL=redis://…)')
    .option('--queues <list>', `comma-separated queues (default: all of ${QUEUE_NAMES.join(',')})`)
    .option('--concurrency <list>', 'per-queue concurrency, e.g. extract=4,covers=2')
    .option('--no-schedules', 'do not fire periodic tasks from this process')
    .option('--celery', 'also answer Python Celery clients: take their messages from Redis, write Celery results (CELERY_BROKER_URL, CELERY_RESULT_BACKEND; docs/celery.md)')
    .action(async (opts: { queues?: string; concurrency?: string; schedules: boolean; celery?: boolean }, command: Command) => {
      const queues = opts.queues?.split(',').map((q) => q.trim()).filter(Boolean);
      const unknown = queues?.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q)) ?? [];
      if (unknown.length > 0) throw new Error(`--queues: unknown queue(s) ${unknown.join(', ')} (known: ${QUEUE_NAMES.join(', ')})`);
      const concurrency = opts.concurrency ? parseConcurrencyFlag(opts.concurrency) : undefined;
      const config = configOf(command);
      const celery = opts.celery === true || config.celery.enabled ? celerySettings(config) : undefined;
      const runtime = await openRuntime(config, loggerOf(command, config, null));
      await serve(runtime, { ...(queues ? { queues } : {}), ...(concurrency ? { concurrency: concurrency as Record<string, number> } : {}), schedules: opts.schedules, ...(celery ? { celery } : {}) });
    });
}

