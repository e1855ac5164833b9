// Builds either broker on a throwaway backing store, so one contract suite runs on both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { BullmqBroker } from '../../src/broker/bullmq/broker.js';
import { EmbeddedBroker } from '../../src/broker/embedded/broker.js';
import type { Broker } from '../../src/broker/port.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/services/index.js';
import type { TaskRegistry } from '../../src/tasks/define.js';

export type BrokerKind = 'embedded' | 'bullmq';

export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Services for tests: images under `dataDir`, outside lookups off. */
export function testServices(dataDir: string): Services {
  return createServices({ ...loadConfig({}), dataDir, outsideLookups: false });
}

/** Redis for tests: REDIS_URL; under CI=true a missing Redis is a failure, never a skip. */
export function redisUrl(): string | undefined {
  const url = process.env.REDIS_URL;
  if (!url && process.env.CI === 'true') throw new Error('CI=true but REDIS_URL is not set: the BullMQ contract suite must run in CI');
  return url;
}

/** PostgreSQL for tests: DATABASE_URL; under CI=true a missing one is a failure, never a skip. */
export function databaseUrl(): string | undefined {
  const url = process.env.DATABASE_URL;
  if (!url && process.env.CI === 'true') throw new Error('CI=true but DATABASE_URL is not set: PostgreSQL tests must run in CI');
  return url;
}

export function brokerKinds(): BrokerKind[] {
  return redisUrl() ? ['embedded', 'bullmq'] : ['embedded'];
}

export interface HarnessOptions {
  lockMs?: number;
  pollMs?: number;
}

export interface Harness {
  kind: BrokerKind;
  dir: string;
  broker: Broker;
  /** another broker on the same store, as a second process would have */
  openAnother(): Promise<Broker>;
  /** puts a job in a queue without validation, as a foreign producer could */
  injectRaw(queue: string, name: string, payload: unknown): Promise<string>;
  /** environment for test/helpers/worker-child.ts to join this store */
  childEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function createHarness(kind: BrokerKind, registry: TaskRegistry, options: HarnessOptions = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-broker-'));
  const databases: DatabaseHandle[] = [];
  const brokers: Broker[] = [];
  const file = path.join(dir, 'soniquebay.db');
  const prefix = `sbtest-${randomUUID().slice(0, 8)}`;
  const lockMs = options.lockMs ?? 30_000;

  const open = async (): Promise<Broker> => {
    const database = openDatabase({ dataDir: dir });
    databases.push(database);
    const broker =
      kind === 'embedded'
        ? await EmbeddedBroker.open({ file, registry, db: database.db, services: testServices(dir), logger: testLogger, lockMs, pollMs: options.pollMs ?? 50 })
        : new BullmqBroker({ url: redisUrl()!, prefix, registry, db: database.db, services: testServices(dir), logger: testLogger, lockMs, stalledIntervalMs: Math.max(250, lockMs / 2) });
    brokers.push(broker);
    return broker;
  };

  const broker = await open();
  return {
    kind,
    dir,
    broker,
    openAnother: open,
    async injectRaw(queue, name, payload) {
      if (kind === 'embedded') {
        const database = openDatabase({ dataDir: dir });
        const now = Date.now();
        const { sql } = await import('kysely');
        // the queue's own layout (src/broker/embedded/schema.ts): the job, then its payload beside it
        const row = await database.db.transaction().execute(async (trx) => {
          const job = await sql<{ id: number }>`INSERT INTO queue_jobs (queue, name, payload, state, priority, queued_at, run_at, max_attempts, created_at)
            VALUES (${queue}, ${name}, '', 'waiting', 0, ${now}, ${now}, 3, ${now}) RETURNING id`.execute(trx);
          await sql`INSERT INTO queue_payloads (job_id, payload) VALUES (${job.rows[0]!.id}, ${JSON.stringify(payload)})`.execute(trx);
          return job;
        });
        await database.close();
        return `${queue}:${row.rows[0]!.id}`;
      }
      const connection = new Redis(redisUrl()!, { maxRetriesPerRequest: null });
      const raw = new Queue(queue, { connection, prefix });
      const job = await raw.add(name, payload, { attempts: 3 });
      await raw.close();
      connection.disconnect();
      return `${queue}:${job.id}`;
    },
    childEnv(): Record<string, string> {
      return kind === 'embedded'
        ? { SB_TEST_BROKER: 'embedded', SB_TEST_DIR: dir, SB_TEST_LOCK_MS: String(lockMs) }
        : { SB_TEST_BROKER: 'bullmq', SB_TEST_DIR: dir, SB_TEST_LOCK_MS: String(lockMs), SB_TEST_PREFIX: prefix, REDIS_URL: redisUrl()! };
    },
    async close() {
      if (kind === 'bullmq') await (brokers[0] as BullmqBroker).obliterate().catch(() => undefined);
      for (const b of brokers) await b.close();
      for (const d of databases) await d.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
