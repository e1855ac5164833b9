// The two runtimes end-to-end tests run on: embedded (SQLite) always; BullMQ + PostgreSQL when
// REDIS_URL and DATABASE_URL are set (always under CI=true). Each gets its own schema and key prefix.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Broker } from '../../src/broker/port.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { ScanTable } from '../../src/db/types.js';
import type { Runtime } from '../../src/runtime.js';
import { getScan } from '../../src/workers/scan/sessions.js';
import { databaseUrl, redisUrl } from './brokers.js';

export interface Setup {
  name: string;
  config(dataDir: string): Promise<{ config: Config; cleanup(): Promise<void> }>;
}

export const runtimeSetups: Setup[] = [
  {
    name: 'embedded (SQLite)',
    async config(dataDir) {
      return { config: { ...loadConfig({}), dataDir, outsideLookups: false }, cleanup: async () => undefined };
    },
  },
];
if (redisUrl() && databaseUrl()) {
  runtimeSetups.push({
    name: 'distributed (BullMQ + PostgreSQL)',
    async config(dataDir) {
      const place = await distributedTestPlace();
      return {
        config: { ...loadConfig({}), dataDir, outsideLookups: false, brokerUrl: redisUrl()!, redisPrefix: place.prefix, databaseUrl: place.databaseUrl },
        cleanup: place.cleanup,
      };
    },
  });
}

/** A PostgreSQL schema of its own for one test: a URL whose connections use it; cleanup drops it. */
export async function postgresTestSchema(): Promise<{ databaseUrl: string; cleanup(): Promise<void> }> {
  const schema = `sbtest_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(databaseUrl()!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    databaseUrl: url.toString(),
    async cleanup() {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** A PostgreSQL schema and a Redis key prefix of its own for one test; cleanup drops both. */
export async function distributedTestPlace(): Promise<{ databaseUrl: string; prefix: string; cleanup(): Promise<void> }> {
  const place = await postgresTestSchema();
  const prefix = `sbtest-${randomUUID().slice(0, 8)}`;
  return {
    databaseUrl: place.databaseUrl,
    prefix,
    async cleanup() {
      await place.cleanup();
      const redis = new Redis(redisUrl()!);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** Runs a scan with an in-process worker until the scan ends; it must complete. */
export async function scan(runtime: Runtime, root: string): Promise<ScanTable> {
  const worker = await runtime.broker.startWorker();
  const scanId = randomUUID();
  await runtime.broker.enqueue('scan.discovery', { root, scanId });
  const deadline = Date.now() + 120_000;
  let current: ScanTable | undefined;
  for (;;) {
    current = await getScan(runtime.database.db, scanId);
    if (current && current.status !== 'running') break;
    if (Date.now() > deadline) throw new Error(`scan still running: ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await worker.close();
  assert.equal(current.status, 'completed', current.last_error ?? '');
  return current;
}


/** Runs every queue in process until nothing is waiting, delayed or running. */
export async function drain(broker: Broker, timeoutMs = 120_000): Promise<void> {
  const worker = await broker.startWorker();
  const deadline = Date.now() + timeoutMs;
  try {
    for (let idle = 0; idle < 3; ) {
      const counts = await broker.counts();
      const busy = Object.values(counts).reduce((n, c) => n + c.waiting + c.delayed + c.active, 0);
      idle = busy === 0 ? idle + 1 : 0;
      if (Date.now() > deadline) throw new Error(`queues still busy: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await worker.close();
  }
}
