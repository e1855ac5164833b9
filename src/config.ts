// Configuration: defaults < config file (JSON, SONIQUEBAY_CONFIG or --config) < environment.
// Validated by zod; an error names the key the user wrote (file key or environment variable).
import fs from 'node:fs';
import path from 'node:path';
import { z } from './utils/schema.js';
import { DEFAULT_CELERY_QUEUES } from './broker/celery/queues.js';
import { QUEUE_NAMES, type QueueName } from './tasks.js';

const positiveInt = z.int().check(z.positive());
const nonEmpty = z.string().check(z.minLength(1));

const queueSchema = z.strictObject({
  concurrency: z.optional(positiveInt.check(z.lte(256))),
  rateLimit: z.optional(z.strictObject({ max: positiveInt, durationMs: positiveInt })),
});

export const configSchema = z.strictObject({
  /** database, images, indexes */
  dataDir: z._default(nonEmpty, './data'),
  libraryRoots: z._default(z.array(nonEmpty), []),
  /** redis://… selects the BullMQ broker; absent = embedded */
  brokerUrl: z.optional(z.string().check(z.regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL (absent = embedded queue)'))),
  /** postgres://… ; absent = SQLite in the data folder */
  databaseUrl: z.optional(z.string().check(z.regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (absent = SQLite in the data folder)'))),
  redisPrefix: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]+$/)), 'soniquebay'),
  logLevel: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  timezone: z._default(z.string().check(z.refine(validTimezone, 'is not a known IANA timezone (e.g. UTC, Europe/Paris)')), 'UTC'),
  queues: z._default(z.partialRecord(z.enum(QUEUE_NAMES), queueSchema), {}),
  schedules: z._default(
    z.record(z.string(), z.strictObject({ cron: z.optional(nonEmpty), enabled: z.optional(z.boolean()), payload: z.optional(z.record(z.string(), z.unknown())) })),
    {},
  ),
  /** a running job's lock lasts this long without a heartbeat before another worker may take it over */
  lockMs: z._default(positiveInt.check(z.gte(1_000)), 30_000),
  /**
   * a job whose worker dies (crash, OOM kill, power cut) while running it goes back to its queue;
   * after this many such losses it is failed, so a file that kills the worker cannot wedge a queue
   */
  maxStalled: z._default(positiveInt.check(z.lte(100)), 5),
  /** on SIGTERM, running jobs get this long to finish before they are put back in their queue */
  shutdownGraceMs: z._default(z.int().check(z.gte(0)), 30_000),
  /** audio analysis (decoding every track); when off, BPM/key/ReplayGain come from the file tags only */
  analysis: z._default(z.boolean(), true),
  /** the HTTP API: where it listens, and the bearer token its mutating routes need off localhost */
  api: z._default(
    z.strictObject({
      host: z._default(nonEmpty, '127.0.0.1'),
      port: z._default(z.int().check(z.gte(0), z.lte(65_535)), 8080),
      token: z.optional(z.string().check(z.minLength(16, 'must be at least 16 characters'))),
    }),
    { host: '127.0.0.1', port: 8080 },
  ),
  /** analysis threads (each decodes and analyses one track at a time); default: one per core */
  analysisThreads: z.optional(positiveInt.check(z.lte(256))),
  /** tag-parsing threads of the scan's extract stage (0: parse in the worker's own thread); default: cores - 1, at least 1 */
  scanThreads: z.optional(z.int().check(z.gte(0), z.lte(256))),
  /** the one switch for every outside lookup (Cover Art Archive, Deezer, Last.fm, fanart.tv, MusicBrainz) */
  outsideLookups: z._default(z.boolean(), true),
  /** how the outside services can reach whoever runs this server (sent in the User-Agent) */
  contact: z.optional(z.string().check(z.maxLength(200))),
  lastfmApiKey: z.optional(nonEmpty),
  fanartApiKey: z.optional(nonEmpty),
  /** base URLs of the outside services (a mirror, or a local replay server in tests) */
  providerUrls: z.prefault(
    z.strictObject({
      coverartarchive: z._default(z.url(), 'https://coverartarchive.org'),
      deezer: z._default(z.url(), 'https://api.deezer.com'),
      lastfm: z._default(z.url(), 'https://ws.audioscrobbler.com'),
      fanarttv: z._default(z.url(), 'https://webservice.fanart.tv'),
      musicbrainz: z._default(z.url(), 'https://musicbrainz.org'),
    }),
    {},
  ),
  covers: z.prefault(
    z.strictObject({
      /** album art files looked for in an album's folders (any case, jpg/jpeg/png/webp), in this order */
      fileNames: z._default(z.array(nonEmpty), ['cover', 'folder', 'front', 'album']),
      /** artist image files looked for in an artist's folder */
      artistFileNames: z._default(z.array(nonEmpty), ['artist', 'folder']),
      /** rendered sizes in pixels (longest side), each in WebP and JPEG */
      sizes: z._default(z.array(z.int().check(z.gte(16), z.lte(4096))).check(z.minLength(1)), [64, 256, 512, 1024]),
    }),
    {},
  ),
  /** the Celery bridge (`worker --celery`); its Redis URLs come from CELERY_BROKER_URL / CELERY_RESULT_BACKEND */
  celery: z.prefault(
    z.strictObject({
      /** run the bridge in `soniquebay worker` without --celery */
      enabled: z._default(z.boolean(), false),
      /** Celery queues (Redis lists) to take messages from */
      queues: z._default(z.array(z.string().check(z.regex(/^[^\n\x06]+$/, 'must be a queue name (no newline or \\x06)'))).check(z.minLength(1)), [...DEFAULT_CELERY_QUEUES]),
      /** Celery messages held at once (taken, task not finished yet) */
      prefetch: z._default(positiveInt.check(z.lte(10_000)), 64),
      /** how long Celery results stay in Redis (Celery's result_expires) */
      resultExpiresSeconds: z._default(positiveInt, 86_400),
    }),
    {},
  ),
  retention: z._default(
    z.strictObject({
      completedMaxAgeHours: z._default(z.number().check(z.positive()), 24),
      completedMaxCount: z._default(z.int().check(z.gte(0)), 1_000),
      failedMaxAgeHours: z._default(z.number().check(z.positive()), 7 * 24),
    }),
    { completedMaxAgeHours: 24, completedMaxCount: 1_000, failedMaxAgeHours: 7 * 24 },
  ),
});

export type Config = z.infer<typeof configSchema>;
export type QueueConfig = z.infer<typeof queueSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** where each value came from, by dotted config path, so an error names what the user wrote */
type Sources = Map<string, string>;

export function loadConfig(env: Env = process.env, configFile?: string): Config {
  const sources: Sources = new Map();
  const raw: Record<string, unknown> = {};
  const file = configFile ?? env.SONIQUEBAY_CONFIG;
  if (file) mergeFile(raw, sources, file);
  mergeEnv(raw, sources, env);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join('.');
        const source = sourceOf(sources, issue.path.map(String)) ?? (key ? `config key "${key}"` : 'config');
        return `${source}: ${issue.message}`;
      }),
    );
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
}

function sourceOf(sources: Sources, issuePath: string[]): string | undefined {
  for (let n = issuePath.length; n > 0; n--) {
    const found = sources.get(issuePath.slice(0, n).join('.'));
    if (found) return found;
  }
  return undefined;
}

function mergeFile(raw: Record<string, unknown>, sources: Sources, file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`config file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file ${file}: not valid JSON (${(err as Error).message})`]);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError([`config file ${file}: must hold a JSON object`]);
  }
  const walk = (value: unknown, at: string[]) => {
    sources.set(at.join('.'), `${file}: key "${at.join('.')}"`);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
    }
  };
  for (const [key, value] of Object.entries(data)) {
    walk(value, [key]);
    raw[key] = value;
  }
}

function mergeEnv(raw: Record<string, unknown>, sources: Sources, env: Env): void {
  const set = (key: string, value: unknown, variable: string) => {
    raw[key] = value;
    sources.set(key, `${variable}=${JSON.stringify(env[variable])}`);
  };
  if (env.SONIQUEBAY_DATA_DIR) set('dataDir', env.SONIQUEBAY_DATA_DIR, 'SONIQUEBAY_DATA_DIR');
  if (env.SONIQUEBAY_LIBRARY_ROOTS) {
    // separated like PATH (':' here): folder names may hold commas
    const roots = env.SONIQUEBAY_LIBRARY_ROOTS.split(path.delimiter).filter((r) => r.length > 0);
    set('libraryRoots', roots, 'SONIQUEBAY_LIBRARY_ROOTS');
  }
  // the seed's Celery setups name the broker CELERY_BROKER_URL; ours wins when both are set
  if (env.SONIQUEBAY_BROKER_URL) set('brokerUrl', env.SONIQUEBAY_BROKER_URL, 'SONIQUEBAY_BROKER_URL');
  else if (env.CELERY_BROKER_URL) set('brokerUrl', env.CELERY_BROKER_URL, 'CELERY_BROKER_URL');
  if (env.SONIQUEBAY_DATABASE_URL) set('databaseUrl', env.SONIQUEBAY_DATABASE_URL, 'SONIQUEBAY_DATABASE_URL');
  if (env.SONIQUEBAY_REDIS_PREFIX) set('redisPrefix', env.SONIQUEBAY_REDIS_PREFIX, 'SONIQUEBAY_REDIS_PREFIX');
  if (env.SONIQUEBAY_LOG_LEVEL) set('logLevel', env.SONIQUEBAY_LOG_LEVEL, 'SONIQUEBAY_LOG_LEVEL');
  if (env.TZ) set('timezone', env.TZ, 'TZ');
  if (env.SONIQUEBAY_ANALYSIS) set('analysis', booleanOf(env.SONIQUEBAY_ANALYSIS), 'SONIQUEBAY_ANALYSIS');
  if (env.SONIQUEBAY_ANALYSIS_THREADS) set('analysisThreads', numeric(env.SONIQUEBAY_ANALYSIS_THREADS), 'SONIQUEBAY_ANALYSIS_THREADS');
  if (env.SONIQUEBAY_SCAN_THREADS) set('scanThreads', numeric(env.SONIQUEBAY_SCAN_THREADS), 'SONIQUEBAY_SCAN_THREADS');
  const api = { ...((raw.api as Record<string, unknown> | undefined) ?? {}) };
  if (env.SONIQUEBAY_API_HOST) api.host = env.SONIQUEBAY_API_HOST;
  if (env.SONIQUEBAY_API_PORT) api.port = numeric(env.SONIQUEBAY_API_PORT);
  if (env.SONIQUEBAY_API_TOKEN) api.token = env.SONIQUEBAY_API_TOKEN;
  if (env.SONIQUEBAY_API_HOST || env.SONIQUEBAY_API_PORT || env.SONIQUEBAY_API_TOKEN) {
    raw.api = api;
    // named, not quoted: the token is a secret
    sources.set('api', ['SONIQUEBAY_API_HOST', 'SONIQUEBAY_API_PORT', 'SONIQUEBAY_API_TOKEN'].filter((v) => env[v]).join(', '));
  }
  if (env.SONIQUEBAY_OUTSIDE_LOOKUPS) set('outsideLookups', booleanOf(env.SONIQUEBAY_OUTSIDE_LOOKUPS), 'SONIQUEBAY_OUTSIDE_LOOKUPS');
  if (env.SONIQUEBAY_CONTACT) set('contact', env.SONIQUEBAY_CONTACT, 'SONIQUEBAY_CONTACT');
  if (env.SONIQUEBAY_LASTFM_API_KEY) set('lastfmApiKey', env.SONIQUEBAY_LASTFM_API_KEY, 'SONIQUEBAY_LASTFM_API_KEY');
  if (env.SONIQUEBAY_FANART_API_KEY) set('fanartApiKey', env.SONIQUEBAY_FANART_API_KEY, 'SONIQUEBAY_FANART_API_KEY');
  if (env.SONIQUEBAY_LOCK_MS) set('lockMs', numeric(env.SONIQUEBAY_LOCK_MS), 'SONIQUEBAY_LOCK_MS');
  if (env.SONIQUEBAY_MAX_STALLED) set('maxStalled', numeric(env.SONIQUEBAY_MAX_STALLED), 'SONIQUEBAY_MAX_STALLED');
  if (env.SONIQUEBAY_SHUTDOWN_GRACE_MS) set('shutdownGraceMs', numeric(env.SONIQUEBAY_SHUTDOWN_GRACE_MS), 'SONIQUEBAY_SHUTDOWN_GRACE_MS');
  if (env.SONIQUEBAY_CELERY) {
    raw.celery = { ...((raw.celery as Record<string, unknown> | undefined) ?? {}), enabled: booleanOf(env.SONIQUEBAY_CELERY) };
    sources.set('celery.enabled', `SONIQUEBAY_CELERY=${JSON.stringify(env.SONIQUEBAY_CELERY)}`);
  }

  const queues = { ...((raw.queues as Record<string, QueueConfig> | undefined) ?? {}) } as Record<string, Record<string, unknown>>;
  const setConcurrency = (queue: string, value: string, variable: string) => {
    queues[queue] = { ...queues[queue], concurrency: numeric(value) };
    sources.set(`queues.${queue}`, `${variable}=${JSON.stringify(env[variable])}`);
  };
  if (env.SONIQUEBAY_CONCURRENCY) {
    for (const part of env.SONIQUEBAY_CONCURRENCY.split(',').filter(Boolean)) {
      const [queue = '', value = ''] = part.split('=');
      setConcurrency(queue.trim(), value.trim(), 'SONIQUEBAY_CONCURRENCY');
    }
  }
  for (const queue of QUEUE_NAMES) {
    const variable = `SONIQUEBAY_CONCURRENCY_${queue.toUpperCase()}`;
    if (env[variable]) setConcurrency(queue, env[variable]!, variable);
  }
  if (Object.keys(queues).length > 0) raw.queues = queues;
}

/** true/false/1/0/yes/no/on/off → boolean; anything else stays a string for the schema to report */
function booleanOf(value: string): boolean | string {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return value;
}

/** "12" → 12; anything else stays a string so the schema reports it against its key */
function numeric(value: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** "a=1,b=2" (CLI flag) → per-queue numbers, checked against the known queues */
export function parseConcurrencyFlag(text: string): Partial<Record<QueueName, number>> {
  const out: Partial<Record<QueueName, number>> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [queue = '', value = ''] = part.split('=').map((s) => s.trim());
    if (!(QUEUE_NAMES as readonly string[]).includes(queue)) {
      throw new ConfigError([`--concurrency: unknown queue "${queue}" (known: ${QUEUE_NAMES.join(', ')})`]);
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError([`--concurrency: ${queue}=${value} is not a positive integer`]);
    out[queue as QueueName] = n;
  }
  return out;
}

/** URLs with their password replaced, for printing */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
