// A worker process for crash tests: joins the store named in its environment and consumes the
// test registry's queues until it is killed.
import { BullmqBroker } from '../../src/broker/bullmq/broker.js';
import { EmbeddedBroker } from '../../src/broker/embedded/broker.js';
import { openDatabase } from '../../src/db/open.js';
import { testLogger, testServices } from './brokers.js';
import { testRegistry } from './test-tasks.js';

const env = process.env;
const dir = env.SB_TEST_DIR!;
const lockMs = Number(env.SB_TEST_LOCK_MS ?? 30_000);
const maxStalled = env.SB_TEST_MAX_STALLED ? Number(env.SB_TEST_MAX_STALLED) : undefined;
const registry = testRegistry();
const { db } = openDatabase({ dataDir: dir });
const broker =
  env.SB_TEST_BROKER === 'embedded'
    ? await EmbeddedBroker.open({ file: `${dir}/soniquebay.db`, registry, db, services: testServices(dir), logger: testLogger, lockMs, pollMs: 50, ...(maxStalled ? { maxStalled } : {}) })
    : new BullmqBroker({ url: env.REDIS_URL!, prefix: env.SB_TEST_PREFIX!, registry, db, services: testServices(dir), logger: testLogger, lockMs, stalledIntervalMs: Math.max(250, lockMs / 2), ...(maxStalled ? { maxStalled } : {}) });
await broker.startWorker();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void broker.close().then(() => process.exit(0));
});
