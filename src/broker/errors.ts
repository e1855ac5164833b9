import { closestNames } from '../utils/text.js';

// Errors a producer or a handler can meet. `permanent` errors fail a job at once, without retries.

export class TaskError extends Error {
  readonly permanent: boolean = false;
}

/** A failure that retrying cannot fix (bad payload, unknown task, missing handler). */
export class PermanentTaskError extends TaskError {
  override readonly permanent: boolean = true;
}

export class UnknownTaskError extends PermanentTaskError {
  constructor(
    readonly taskName: string,
    known: readonly string[],
  ) {
    const close = closestNames(taskName, known);
    super(
      `unknown task "${taskName}"` +
        (close.length > 0 ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : '') +
        '; run `soniquebay tasks` for the list',
    );
    this.name = 'UnknownTaskError';
  }
}

export class PayloadValidationError extends PermanentTaskError {
  constructor(
    readonly taskName: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid payload for ${taskName}: ${issues.join('; ')}`);
    this.name = 'PayloadValidationError';
  }
}

export class TaskNotAvailableError extends PermanentTaskError {
  constructor(
    readonly taskName: string,
    arrivesWith: string | undefined,
  ) {
    super(`task ${taskName} is not available yet${arrivesWith ? ` (it arrives with ${arrivesWith})` : ''}`);
    this.name = 'TaskNotAvailableError';
  }
}

export class TaskTimeoutError extends TaskError {
  constructor(
    readonly taskName: string,
    readonly timeoutMs: number,
  ) {
    super(`task ${taskName} timed out after ${timeoutMs} ms`);
    this.name = 'TaskTimeoutError';
  }
}

export class JobIdError extends Error {
  constructor(id: string) {
    super(`"${id}" is not a job id: expected <queue>:<id>, as printed by \`soniquebay jobs\``);
    this.name = 'JobIdError';
  }
}

export function isPermanent(err: unknown): boolean {
  return err instanceof TaskError && err.permanent;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
