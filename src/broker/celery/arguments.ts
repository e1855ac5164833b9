// Celery calls a task with positional `args` and keyword `kwargs`; our tasks take one payload
// object. The registry declares, for every task and every legacy alias, which payload key each
// positional argument fills (`positional`): this is the only place that reads that table.
import { PayloadValidationError, UnknownTaskError } from '../errors.js';
import type { TaskDefinition, TaskRegistry } from '../../tasks/define.js';

/**
 * The payload a Celery call means: positional arguments by the declared names, then keyword
 * arguments by their own names. `None` stands for "the default" in Python calls, so a null
 * argument is left out. Validation (and a legacy alias's adapter) comes after, at enqueue.
 */
export function payloadOf(registry: TaskRegistry, name: string, args: readonly unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
  const declared = registry.tasks.get(name) ?? registry.aliases.get(name);
  if (!declared) throw new UnknownTaskError(name, [...registry.tasks.keys(), ...registry.aliases.keys()]);
  const names = declared.positional;
  if (args.length > names.length) {
    const takes = names.length === 0 ? 'takes no positional arguments' : `takes at most ${names.length} positional argument(s) (${names.join(', ')})`;
    throw new PayloadValidationError(name, [`${takes}, got ${args.length}`]);
  }
  const payload: Record<string, unknown> = {};
  args.forEach((value, i) => {
    if (value !== null) payload[names[i]!] = value;
  });
  for (const [key, value] of Object.entries(kwargs)) {
    const at = names.indexOf(key);
    if (at >= 0 && at < args.length) throw new PayloadValidationError(name, [`${key}: given both as positional argument ${at + 1} and as a keyword argument`]);
    if (value !== null) payload[key] = value;
  }
  return payload;
}

/** The task a name (or legacy alias) runs as, for its queue and default priority. */
export function taskOf(registry: TaskRegistry, name: string): TaskDefinition | undefined {
  return registry.tasks.get(name) ?? registry.tasks.get(registry.aliases.get(name)?.target ?? '');
}
