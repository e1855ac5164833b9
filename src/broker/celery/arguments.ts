// Celery calls a task with positional `args` and keyword `kwargs`; our tasks take one payload
// object. The registry declares, for every task and every legacy alias, which payload key each
// positional argument fills (`positional`): this is the only place that reads that table.
import { PayloadValidationError, UnknownTaskError } from '../errors.js';
import type { LegacyAlias, TaskDefinition, TaskRegistry } from '../../tasks/define.js';
import { CELERY_OVERRIDES } from '../../tasks/legacy.js';
import { unsupportedReason, NotSupportedError } from './unsupported.js';

const OVERRIDES = new Map(CELERY_OVERRIDES.map((o) => [o.name, o]));

function mapArguments(name: string, names: readonly string[], args: readonly unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
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
    // SoniqueBay passes priority="normal" as a task argument (contract §1.2): our queues order
    // work themselves, so a textual priority a task does not declare is accepted and left out
    if (key === 'priority' && typeof value === 'string' && at < 0) continue;
    if (value !== null) payload[key] = value;
  }
  return payload;
}

/**
 * The payload a Celery call means: positional arguments by the declared names, then keyword
 * arguments by their own names. `None` stands for "the default" in Python calls, so a null
 * argument is left out. Validation (and a legacy alias's adapter) comes after, at enqueue.
 */
export function payloadOf(registry: TaskRegistry, name: string, args: readonly unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
  const declared = registry.tasks.get(name) ?? registry.aliases.get(name);
  if (!declared) {
    const why = unsupportedReason(name);
    if (why) throw new NotSupportedError(name, why);
    throw new UnknownTaskError(name, [...registry.tasks.keys(), ...registry.aliases.keys()]);
  }
  return mapArguments(name, declared.positional, args, kwargs);
}

/**
 * What a Celery message runs: a name SoniqueBay's Python side uses in its own sense
 * (CELERY_OVERRIDES) becomes its target task with the adapted payload; any other name is
 * enqueued as sent (the broker resolves legacy aliases).
 */
export function celeryCall(registry: TaskRegistry, name: string, args: readonly unknown[], kwargs: Record<string, unknown>): { task: string; payload: unknown } {
  const override: LegacyAlias | undefined = OVERRIDES.get(name);
  if (override && registry.tasks.has(override.target)) {
    const mapped = mapArguments(name, override.positional, args, kwargs);
    return { task: override.target, payload: override.adapt ? override.adapt(mapped) : mapped };
  }
  return { task: name, payload: payloadOf(registry, name, args, kwargs) };
}

/** The task a name (or legacy alias) runs as, for its queue and default priority. */
export function taskOf(registry: TaskRegistry, name: string): TaskDefinition | undefined {
  return registry.tasks.get(name) ?? registry.tasks.get(registry.aliases.get(name)?.target ?? '');
}
