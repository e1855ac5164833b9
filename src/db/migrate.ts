import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as library from './migrations/0001_library.js';
import * as images from './migrations/0002_images.js';
import * as analysis from './migrations/0003_analysis.js';
import * as vectors from './migrations/0004_vectors.js';
import * as missingTracks from './migrations/0005_missing_tracks.js';
import * as soniquebaySink from './migrations/0006_soniquebay_sink.js';
import * as scanSkipped from './migrations/0007_scan_skipped.js';
import * as tempoAlternative from './migrations/0008_tempo_alternative.js';
import * as imageRenditions from './migrations/0009_image_renditions.js';
import * as searchIndex from './migrations/0010_search_index.js';
import * as analysisVersionIndex from './migrations/0011_analysis_version_index.js';
import type { Db, DbDialect } from './types.js';

/** Every migration, in order; each is written once for both databases. */
export function migrationsFor(dialect: DbDialect): Record<string, Migration> {
  return {
    '0001_library': { up: library.up(dialect) },
    '0002_images': { up: images.up(dialect) },
    '0003_analysis': { up: analysis.up(dialect) },
    '0004_vectors': { up: vectors.up(dialect) },
    '0005_missing_tracks': { up: missingTracks.up(dialect) },
    '0006_soniquebay_sink': { up: soniquebaySink.up(dialect) },
    '0007_scan_skipped': { up: scanSkipped.up(dialect) },
    '0008_tempo_alternative': { up: tempoAlternative.up(dialect) },
    '0009_image_renditions': { up: imageRenditions.up(dialect) },
    '0010_search_index': { up: searchIndex.up(dialect) },
    '0011_analysis_version_index': { up: analysisVersionIndex.up(dialect) },
  };
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: DbDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrationsFor(this.dialect);
  }
}

/** Brings the schema to the latest version; safe to call at every start. */
export async function migrateToLatest(db: Db, dialect: DbDialect): Promise<string[]> {
  if (await allApplied(db, Object.keys(migrationsFor(dialect)))) return [];
  const migrator = new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: new StaticProvider(dialect),
    // PostgreSQL: Kysely looks for its two tables in every schema of the database unless told which
    // (migrator.js, `#doesTableExists`): another schema holding a kysely_migration_lock (a second
    // library in the same database, a test's leftover) made it skip creating ours, and the first
    // migration failed with "relation kysely_migration_lock does not exist". Ours is the schema the
    // connection's search_path gives (README, distributed mode).
    ...(dialect === 'postgres' ? { migrationTableSchema: await currentSchema(db) } : {}),
    // Kysely's default, localeCompare, builds ICU's collator at every start (~10 ms of a command
    // that runs for 0.3 s); migration names are ASCII, and code-unit order is the order Kysely
    // resolves them in
    nameComparator: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Whether exactly these migrations are recorded: the answer at almost every start, in one query.
 * Kysely's migrator would first read the schema (a query per table) to find its own tables.
 */
async function allApplied(db: Db, names: readonly string[]): Promise<boolean> {
  let rows: { name: string }[];
  try {
    rows = (await sql<{ name: string }>`select name from kysely_migration`.execute(db)).rows;
  } catch {
    return false; // a new database: no migration table yet
  }
  const applied = new Set(rows.map((r) => r.name));
  return applied.size === names.length && names.every((n) => applied.has(n));
}

/** the schema unqualified names resolve to on this connection (PostgreSQL) */
async function currentSchema(db: Db): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) throw new Error('the PostgreSQL connection has no current schema (its search_path names none that exists)');
  return schema;
}
