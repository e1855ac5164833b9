import { Command, Option } from 'commander';
import { JOB_STATES, type JobInfo, type JobState } from '../broker/port.js';
import { withRuntime } from './context.js';
import { printJson, printLine, printTable } from './output.js';

export function jobsCommand(): Command {
  const jobs = new Command('jobs')
    .description('queue counts per state; `jobs list|show|retry|prune` for details')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ broker }) => {
        const counts = await broker.counts();
        if (opts.json) return printJson({ broker: broker.kind, counts });
        printLine(`broker: ${broker.kind}`);
        printTable(['queue', ...JOB_STATES], Object.entries(counts).map(([queue, c]) => [queue, ...JOB_STATES.map((s) => c[s])]));
      }, 'queue');
    });

  jobs
    .command('list')
    .description('jobs in one state, newest first (failed ones with their error)')
    .addOption(new Option('--state <state>', 'job state').choices(JOB_STATES).default('failed'))
    .option('--queue <queue>', 'only this queue')
    .option('--limit <n>', 'at most this many', (v) => positive(v, '--limit'), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { state: JobState; queue?: string; limit: number; json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ broker }) => {
        const list = await broker.listJobs({ state: opts.state, limit: opts.limit, ...(opts.queue ? { queue: opts.queue } : {}) });
        if (opts.json) return printJson(list);
        if (list.length === 0) return printLine(`no ${opts.state} jobs`);
        printTable(['id', 'task', 'attempts', 'finished', 'error'], list.map((j) => [j.id, j.name, `${j.attemptsMade}/${j.maxAttempts}`, when(j.finishedAt), j.error ?? '']));
      }, 'queue');
    });

  jobs
    .command('show <id>')
    .description('one job: payload, state, attempts, progress, result or error')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ broker }) => {
        const job = await broker.getJob(id);
        if (!job) throw new Error(`no job ${id}`);
        if (opts.json) return printJson(job);
        printJob(job);
      }, 'queue');
    });

  jobs
    .command('retry [ids...]')
    .description('puts failed jobs back in their queue with fresh attempts')
    .option('--all', 'every failed job (of --queue, if given)')
    .option('--queue <queue>', 'with --all: only this queue')
    .option('--json', 'print JSON')
    .action(async (ids: string[], opts: { all?: boolean; queue?: string; json?: boolean }, command: Command) => {
      if (!opts.all && ids.length === 0) throw new Error('name the job ids to retry, or use --all');
      await withRuntime(command, async ({ broker }) => {
        const retried = opts.all ? await broker.retryAllFailed(opts.queue) : await broker.retry(ids);
        if (opts.json) printJson({ retried });
        else printLine(`${retried} job(s) put back in their queue`);
        if (!opts.all && retried < ids.length) throw new Error(`${ids.length - retried} of the ${ids.length} job(s) named are not failed jobs (unknown id, or not failed): soniquebay jobs list`);
      }, 'queue');
    });

  jobs
    .command('prune')
    .description('removes finished jobs past the retention policy now')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withRuntime(command, async ({ broker }) => {
        const removed = await broker.prune();
        if (opts.json) return printJson({ removed });
        printLine(`${removed} finished job(s) removed`);
      }, 'queue');
    });
  return jobs;
}

export function printJob(job: JobInfo): void {
  printLine(`${job.id}  ${job.name}  ${job.state}  attempts ${job.attemptsMade}/${job.maxAttempts}  priority ${job.priority}`);
  printLine(`created ${when(job.createdAt)}  started ${when(job.startedAt)}  finished ${when(job.finishedAt)}`);
  printLine(`payload: ${JSON.stringify(job.payload)}`);
  if (job.progress !== null) printLine(`progress: ${JSON.stringify(job.progress)}`);
  if (job.result !== null) printLine(`result: ${JSON.stringify(job.result)}`);
  if (job.error) printLine(`error: ${job.error}`);
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

export function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
