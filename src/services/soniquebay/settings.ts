// Where the SoniqueBay sink writes: SoniqueBay's own PostgreSQL database. Read from the environment
// only (never the config file), like the Celery URLs, so `soniquebay config` never prints its password.
// (config.ts is not imported: it imports the task registry, which imports the sink's tasks)

export interface SinkSettings {
  /** postgres://… of SoniqueBay's database */
  url: string;
  /** the PostgreSQL schema holding SoniqueBay's tables (default: the role's search_path, i.e. public) */
  schema: string | null;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** The sink's settings, or null when SONIQUEBAY_SINK_URL is not set (no sink). */
export function sinkSettings(env: Record<string, string | undefined> = process.env): SinkSettings | null {
  const url = env.SONIQUEBAY_SINK_URL;
  if (!url) return null;
  const problems: string[] = [];
  if (!POSTGRES_URL.test(url)) problems.push(`SONIQUEBAY_SINK_URL=${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}: SoniqueBay's database must be a postgres:// URL`);
  const schema = env.SONIQUEBAY_SINK_SCHEMA ?? null;
  if (schema !== null && !SCHEMA.test(schema)) problems.push(`SONIQUEBAY_SINK_SCHEMA=${JSON.stringify(schema)}: a lower-case PostgreSQL schema name`);
  if (problems.length > 0) throw new Error(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return { url, schema };
}

/** The Redis SoniqueBay's API and UI listen on for progress and notifications (CELERY_BROKER_URL). */
export function eventsUrl(env: Record<string, string | undefined> = process.env): string | null {
  return env.CELERY_BROKER_URL ?? null;
}
