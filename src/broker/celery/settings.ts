// Where the bridge finds Celery: CELERY_BROKER_URL and CELERY_RESULT_BACKEND, as the seed's
// celery_app.py reads them, else the Redis our own broker uses. Read from the environment (not
// the config file) so that `soniquebay config` never prints their passwords.
import { ConfigError, redactUrl, type Config } from '../../config.js';

export interface CelerySettings {
  /** where Celery messages wait (redis://…) */
  brokerUrl: string;
  /** Celery's result backend (redis://…) */
  resultUrl: string;
  /** Celery queue names (Redis lists) to consume */
  queues: readonly string[];
  /** messages held at once: claimed and not yet acknowledged */
  prefetch: number;
  /** a held message goes back to its list when its bridge has not renewed it for this long */
  leaseMs: number;
  resultExpiresSeconds: number;
  /** prefix of the bridge's own keys on the Celery broker's Redis */
  keyPrefix: string;
}

const REDIS_URL = /^rediss?:\/\//;

export function celerySettings(config: Config, env: Record<string, string | undefined> = process.env): CelerySettings {
  const problems: string[] = [];
  const check = (variable: string, value: string | undefined): string | undefined => {
    if (value && !REDIS_URL.test(value)) problems.push(`${variable}=${JSON.stringify(redactUrl(value))}: the Celery bridge needs a redis:// or rediss:// URL`);
    return value;
  };
  // config.brokerUrl was checked by the config already
  const brokerUrl = env.CELERY_BROKER_URL ? check('CELERY_BROKER_URL', env.CELERY_BROKER_URL) : config.brokerUrl;
  if (!brokerUrl) problems.push('the Celery bridge needs the Redis its clients send to: set CELERY_BROKER_URL (e.g. redis://redis:6379/0)');
  const resultUrl = env.CELERY_RESULT_BACKEND ? check('CELERY_RESULT_BACKEND', env.CELERY_RESULT_BACKEND) : brokerUrl;
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    brokerUrl: brokerUrl!,
    resultUrl: resultUrl!,
    queues: config.celery.queues,
    prefetch: config.celery.prefetch,
    // the same promise as a job's lock: a worker silent this long loses what it held
    leaseMs: config.lockMs,
    resultExpiresSeconds: config.celery.resultExpiresSeconds,
    keyPrefix: `${config.redisPrefix}:celery`,
  };
}
