// Which spelling of a name is kept when files disagree ("Artist 7", "ARTIST 7", "artist 7"): the
// same one whatever order the files are processed in, so that a library scanned by several
// workers at once ends up exactly as one scanned by one. Mixed case beats all-capitals and
// all-lower-case; between equals, the first in byte order.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { isPostgres } from './dialect.js';

const singleCase = (s: string) => s === s.toUpperCase() || s === s.toLowerCase();

/** the spelling to keep of two (JavaScript side, for names met within one batch) */
export function preferredSpelling(a: string, b: string): string {
  const sa = singleCase(a);
  const sb = singleCase(b);
  if (sa !== sb) return sa ? b : a;
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) <= 0 ? a : b;
}

/**
 * The same choice in SQL, for an upsert's conflict: `current` (the stored column) vs `incoming`
 * (excluded.column). Byte order is the default in SQLite and asked for with COLLATE "C" in
 * PostgreSQL (whose default collation depends on the locale).
 */
export function preferredSpellingSql(db: Kysely<unknown> | { getExecutor(): { adapter: unknown } }, current: string, incoming: string): RawBuilder<string> {
  const postgres = isPostgres(db);
  const cur = sql.ref(current);
  const inc = sql.ref(incoming);
  const single = (x: typeof cur) => sql`(${x} = upper(${x}) or ${x} = lower(${x}))`;
  const less = postgres ? sql`${inc} collate "C" < ${cur} collate "C"` : sql`${inc} < ${cur}`;
  return sql<string>`case when ${single(cur)} and not ${single(inc)} then ${inc} when ${single(cur)} = ${single(inc)} and ${less} then ${inc} else ${cur} end`;
}
