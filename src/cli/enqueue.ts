import { Command } from 'commander';
import { withRuntime } from './context.js';
import { positive, printJob } from './jobs.js';
import { printJson, printLine } from './output.js';

export function enqueueCommand(): Command {
  return new Command('enqueue')
    .description('queues a task by name (the routing table picks the queue); payload as JSON')
    .argument('<task>', 'task name, e.g. scan.discovery (legacy names are accepted)')
    .argument('[payload]', 'JSON object', '{}')
    .option('--priority <n>', '0 runs first (default: the task\'s); larger numbers wait', (v) => nonNegative(v, '--priority'))
    .option('--delay <ms>', 'do not start before this many milliseconds', (v) => nonNegative(v, '--delay'))
    .option('--job-id <id>', 'your own job id; queueing the same id again returns the existing job')
    .option('--wait <seconds>', 'wait for the job to finish and print it; exit 1 if it failed', (v) => positive(v, '--wait'))
    .option('--json', 'print JSON')
    .action(async (task: string, payloadText: string, opts: { priority?: number; delay?: number; jobId?: string; wait?: number; json?: boolean }, command: Command) => {
      let payload: unknown;
      try {
        payload = JSON.parse(payloadText);
      } catch (err) {
        throw new Error(`payload is not valid JSON: ${(err as Error).message}`);
      }
      await withRuntime(command, async ({ broker }) => {
        const ref = await broker.enqueue(task, payload, {
          ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          ...(opts.delay !== undefined ? { delayMs: opts.delay } : {}),
          ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
        });
        if (opts.wait === undefined) return opts.json ? printJson(ref) : printLine(`queued ${ref.id} (${ref.name})`);
        const job = await broker.waitForJob(ref.id, opts.wait * 1000);
        if (!job) throw new Error(`job ${ref.id} did not finish within ${opts.wait} s (is a worker running?)`);
        if (opts.json) printJson(job);
        else printJob(job);
        if (job.state === 'failed') throw new Error(`job ${job.id} failed: ${job.error ?? 'no reason given'}`);
      }, 'nothing');
    });
}

function nonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be an integer >= 0, got "${value}"`);
  return n;
}
