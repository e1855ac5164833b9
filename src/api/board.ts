// Bull Board (queue internals: jobs, their data and logs, retries) at /board, in BullMQ mode only.
// Its changes (retry, clean, promote) go through the same bearer-token check as every route.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { BullmqBroker } from '../broker/bullmq/broker.js';
import type { Runtime } from '../runtime.js';

export const BOARD_PATH = '/board';

export async function mountBullBoard(app: FastifyInstance, runtime: Runtime): Promise<boolean> {
  const broker = runtime.broker;
  if (!(broker instanceof BullmqBroker)) return false;
  const adapter = new FastifyAdapter();
  adapter.setBasePath(BOARD_PATH);
  createBullBoard({ queues: Object.keys(runtime.registry.queues).map((name) => new BullMQAdapter(broker.bullQueue(name))), serverAdapter: adapter });
  await app.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
  return true;
}
