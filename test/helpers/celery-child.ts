// A worker process with the Celery bridge for crash tests: the test registry on an embedded
// broker in SB_TEST_DIR, Celery on CELERY_BROKER_URL, until it is killed.
import { CeleryBridge } from '../../src/broker/celery/bridge.js';
import { EmbeddedBroker } from '../../src/broker/embedded/broker.js';
import { openDatabase } from '../../src/db/open.js';
import { testLogger, testServices } from './brokers.js';
import { testRegistry } from './test-tasks.js';

const env = process.env;
const dir = env.SB_TEST_DIR!;
const leaseMs = Number(env.SB_TEST_LEASE_MS ?? 30_000);
const registry = testRegistry();
const { db } = openDatabase({ dataDir: dir });
const broker = await EmbeddedBroker.open({ file: `${dir}/soniquebay.db`, registry, db, services: testServices(dir), logger: testLogger, lockMs: leaseMs, pollMs: 50 });
await broker.startWorker();
const bridge = await CeleryBridge.start({
  broker,
  registry,
  logger: testLogger,
  brokerUrl: env.CELERY_BROKER_URL!,
  resultUrl: env.CELERY_RESULT_BACKEND!,
  queues: ['celery'],
  prefetch: 8,
  leaseMs,
  resultExpiresSeconds: 600,
  keyPrefix: 'sbtest:celery',
  checkEveryMs: 200,
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void bridge
    .close(1_000)
    .then(() => broker.close())
    .then(() => process.exit(0));
});
