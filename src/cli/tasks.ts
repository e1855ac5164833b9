import { Command } from 'commander';
import { toJSONSchema } from 'zod/mini';
import { buildRegistry } from '../tasks.js';
import { printJson, printLine, printTable } from './output.js';

export function tasksCommand(): Command {
  return new Command('tasks')
    .description('every task the worker knows: queue, availability, payload schema, legacy names')
    .option('--json', 'print JSON (with each payload\'s JSON schema)')
    .action((opts: { json?: boolean }) => {
      const registry = buildRegistry();
      const tasks = [...registry.tasks.values()].map((t) => ({
        name: t.name,
        queue: t.queue,
        available: t.handler !== undefined,
        ...(t.handler ? {} : { arrivesWith: t.arrivesWith }),
        description: t.description,
        attempts: t.retry.attempts,
        timeoutMs: t.timeoutMs,
        payload: toJSONSchema(t.schema, { io: 'input' }),
      }));
      const aliases = [...registry.aliases.values()].map((a) => ({ name: a.name, target: a.target }));
      if (opts.json) return printJson({ tasks, aliases });
      printTable(
        ['task', 'queue', 'available', 'description'],
        tasks.map((t) => [t.name, t.queue, t.available ? 'yes' : `no: ${t.arrivesWith ?? ''}`, t.description]),
      );
      printLine();
      printLine(`legacy names: ${aliases.map((a) => `${a.name} -> ${a.target}`).join(', ')}`);
    });
}
