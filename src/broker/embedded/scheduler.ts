// Periodic tasks in embedded mode: croner ticks, and a (entry, tick) row claimed in SQLite so that
// one tick enqueues one job however many processes share the database.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import type { Schedule } from '../../schedules.js';
import type { SchedulerHandle } from '../port.js';
import { retryBusy, type JobStore } from './store.js';

export function startEmbeddedScheduler(
  schedules: readonly Schedule[],
  store: JobStore,
  enqueue: (schedule: Schedule) => Promise<unknown>,
  logger: Logger,
): SchedulerHandle {
  const crons = schedules.map(
    (schedule) =>
      new Cron(schedule.cron, { timezone: schedule.timezone, protect: true }, async () => {
        // croner fires on the second of the tick; rounding absorbs a few ms of lateness
        const tickAt = Math.round(Date.now() / 1000) * 1000;
        try {
          const first = await retryBusy(() => store.claimTick(schedule.id, tickAt));
          if (first) await enqueue(schedule);
        } catch (err) {
          logger.error({ err, schedule: schedule.id }, 'periodic task could not be enqueued');
        }
      }),
  );
  return {
    async close() {
      for (const cron of crons) cron.stop();
    },
  };
}
