// Wires one process: configuration → database → registry → broker. Every CLI command and the
// future HTTP API start from here, so both runtimes are assembled in one place.
import path from 'node:path';
import type { Logger } from 'pino';
import { EmbeddedBroker } from './broker/embedded/broker.js';
import type { Broker, RetentionPolicy } from './broker/port.js';
import type { Config } from './config.js';
import { migrateToLatest } from './db/migrate.js';
import { openDatabase, sqliteFileFor, type DatabaseHandle } from './db/open.js';
import { buildSchedules, type Schedule } from './schedules.js';
import { closeServices, createServices, type Services } from './services/index.js';
import { buildRegistry, defaultQueueSettings, QUEUE_NAMES, type QueueName } from './tasks.js';
import type { QueueSettings, TaskRegistry } from './tasks/define.js';
import { LibraryIndex } from './services/vectors/library_index.js';
import { createLogger } from './utils/logger.js';

export interface Runtime {
  config: Config;
  services: Services;
  logger: Logger;
  registry: TaskRegistry;
  database: DatabaseHandle;
  broker: Broker;
  /** the similarity index of the active vector model (built on first use, saved under dataDir/vectors) */
  vectors: LibraryIndex;
  close(): Promise<void>;
}

export function queueSettingsFrom(config: Config): Record<QueueName, QueueSettings> {
  const settings = defaultQueueSettings();
  for (const queue of QUEUE_NAMES) {
    const override = config.queues[queue];
    if (override?.concurrency !== undefined) settings[queue] = { ...settings[queue], concurrency: override.concurrency };
    if (override?.rateLimit) settings[queue] = { ...settings[queue], rateLimit: override.rateLimit };
  }
  return settings;
}

export function retentionFrom(config: Config): RetentionPolicy {
  return {
    completedMaxAgeMs: config.retention.completedMaxAgeHours * 3_600_000,
    completedMaxCount: config.retention.completedMaxCount,
    failedMaxAgeMs: config.retention.failedMaxAgeHours * 3_600_000,
  };
}

export async function openRuntime(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<Runtime> {
  const registry = buildRegistry(queueSettingsFrom(config));
  const database = openDatabase({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
  try {
    await migrateToLatest(database.db, database.dialect);
  } catch (err) {
    await database.abandon();
    throw err;
  }
  const services = createServices(config);
  const common = { registry, db: database.db, services, logger, lockMs: config.lockMs, maxStalled: config.maxStalled, retention: retentionFrom(config) };
  let broker: Broker;
  try {
    // loaded only in distributed mode: bullmq + ioredis cost ~0.3 CPU-s at every start otherwise
    broker = config.brokerUrl
      ? new (await import('./broker/bullmq/broker.js')).BullmqBroker({ ...common, url: config.brokerUrl, prefix: config.redisPrefix })
      : await EmbeddedBroker.open({ ...common, file: database.sqliteFile ?? sqliteFileFor(config.dataDir) });
  } catch (err) {
    await database.abandon();
    throw err;
  }
  const vectors = new LibraryIndex(database.db, path.join(config.dataDir, 'vectors'));
  return {
    config,
    services,
    logger,
    registry,
    database,
    broker,
    vectors,
    async close() {
      vectors.close();
      await broker.close();
      await closeServices(services);
      await database.close();
    },
  };
}

/** The configured periodic tasks whose handlers exist; the others are named once in the log. */
export function runnableSchedules(runtime: Runtime): Schedule[] {
  const all = buildSchedules(runtime.config.schedules, runtime.config.timezone);
  const ready = all.filter((s) => runtime.registry.tasks.get(s.task)?.handler);
  const waiting = all.filter((s) => !ready.includes(s)).map((s) => s.id);
  if (waiting.length > 0) runtime.logger.info({ schedules: waiting }, 'periodic tasks skipped: their tasks are not available yet');
  return ready;
}
