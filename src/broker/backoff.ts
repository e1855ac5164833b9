import type { BackoffPolicy } from '../tasks/define.js';

/**
 * Delay before the next run after `attemptsMade` failed runs (1 after the first failure):
 * base · factor^(attemptsMade-1), capped. Both brokers use this one function.
 */
export function backoffDelay(policy: BackoffPolicy, attemptsMade: number): number {
  const exponent = Math.max(0, attemptsMade - 1);
  const delay = policy.baseMs * Math.pow(policy.factor, exponent);
  return Math.round(Math.min(policy.capMs, delay));
}
