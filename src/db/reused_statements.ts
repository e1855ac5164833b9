// Statements that Kysely builds and compiles once per shape, then runs again with new values:
// multi-row inserts (reusedInsert), statements over a list of values (reusedListQuery) and
// statements whose values are all named (reusedQuery).
// Kysely builds an operation node for every value of every row, freezes it, and compiles the tree
// to SQL on every call: for the scan's batch writer (100 tracks of 50 columns a statement, 30,000
// work-state rows per 10,000 files) that was ~0.35 s of a 10,000-file first scan's main thread.
// Here the statement is built once with placeholders standing for the values (a row's column, or
// a named value such as the batch's clock), and the compiled SQL is kept with where each of its
// parameters comes from; the next call with the same columns and row count binds the new values
// to the same SQL. The SQL is Kysely's own (its dialect's quoting and placeholders), so SQLite and
// PostgreSQL get the same statements as before. Rows go `chunk` to a statement, and the rest in
// statements of 64, 32, … 1 rows: a handful of shapes serve every row count.
import { createQueryId, type CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database } from './types.js';

/** a row to insert: its own properties are its columns */
type Row = object;
type Values = Readonly<Record<string, unknown>>;

/** What a parameter is while a statement is built: a row's column, or a named value. */
class Slot {
  constructor(
    readonly row: number,
    readonly column: string,
  ) {}
}

interface Plan {
  compiled: CompiledQuery;
  /** per parameter: where its value comes from (a slot) or the constant the statement holds */
  sources: unknown[];
}

/** shapes kept per database (distinct column sets and row counts); the oldest goes first */
const PLANS_PER_DATABASE = 64;

/**
 * An insert statement reused across calls. `build` makes it from rows and named values (a
 * placeholder stands for each while it is built): it must take every varying value from them, and
 * is written at module level so that it cannot hold one call's values. Columns are those that
 * have a value in some row, in order of first appearance (as Kysely's own `values()`); a row's
 * undefined is written as NULL, what Kysely writes on SQLite (on PostgreSQL it writes the column's
 * default): rows must give every column whose default is not NULL.
 */
export function reusedInsert<V extends Record<string, unknown>, R>(build: (db: Kysely<Database>, rows: Row[], values: V) => Compilable<R>, chunk = 100) {
  const statement = reusable(build);
  /** Inserts every row, in order, and returns what the statements return, in order. */
  return async (db: Kysely<Database>, rows: readonly Row[], values: V): Promise<R[]> => {
    const out: R[] = [];
    for (let at = 0; at < rows.length; ) {
      const left = rows.length - at;
      const size = left >= chunk ? chunk : 2 ** Math.floor(Math.log2(left));
      out.push(...(await statement(db, rows.slice(at, at + size), values)));
      at += size;
    }
    return out;
  };
}

/**
 * A statement whose varying values are all named (a select by folder, say), reused across calls:
 * `build` makes it from the named values (placeholders while it is built), at module level.
 */
export function reusedQuery<V extends Record<string, unknown>, R>(build: (db: Kysely<Database>, values: V) => Compilable<R>) {
  const statement = reusable((db, _rows: Row[], values: V) => build(db, values));
  return (db: Kysely<Database>, values: V): Promise<R[]> => statement(db, [], values);
}

/**
 * A statement over a list of values (`where … in (…)`), `chunk` values a statement and the rest in
 * statements of 64, 32, … 1 values, each shape compiled once; the rows they return, in order.
 */
export function reusedListQuery<T, V extends Record<string, unknown>, R>(build: (db: Kysely<Database>, items: T[], values: V) => Compilable<R>, chunk = 100) {
  // the list's items are the rows of a one-column insert's shape: one placeholder each
  const statement = reusedInsert((db, rows, values: V) => build(db, (rows as { item: T }[]).map((row) => row.item), values), chunk);
  return (db: Kysely<Database>, items: readonly T[], values: V): Promise<R[]> => statement(db, items.map((item) => ({ item })), values);
}

/** The statement `build` makes, compiled once per shape (row count, columns, value names) and database. */
function reusable<V extends Record<string, unknown>, R>(build: (db: Kysely<Database>, rows: Row[], values: V) => Compilable<R>) {
  const plansByDatabase = new WeakMap<object, Map<string, Plan>>();
  return async (db: Kysely<Database>, rows: readonly Row[], values: V): Promise<R[]> => {
    const columns = columnsOf(rows);
    const names = Object.keys(values);
    const key = `${rows.length}|${columns.join(',')}|${names.join(',')}`;
    // one cache per database: its dialect decides the SQL
    const adapter = db.getExecutor().adapter;
    let plans = plansByDatabase.get(adapter);
    if (!plans) plansByDatabase.set(adapter, (plans = new Map()));
    let plan = plans.get(key);
    if (plan) {
      plans.delete(key); // most recently used goes last
    } else {
      plan = makePlan(db, build, rows.length, columns, names);
      if (plans.size >= PLANS_PER_DATABASE) plans.delete(plans.keys().next().value!);
    }
    plans.set(key, plan);
    const parameters = plan.sources.map((source) => {
      if (!(source instanceof Slot)) return source;
      const value = source.row < 0 ? values[source.column] : (rows[source.row] as Values)[source.column];
      return value === undefined ? null : value;
    });
    const result = await db.executeQuery<R>({ ...plan.compiled, parameters, queryId: createQueryId() } as CompiledQuery<R>);
    return result.rows;
  };
}

function columnsOf(rows: readonly Row[]): string[] {
  const columns = new Set<string>();
  for (const row of rows as readonly Values[]) for (const column in row) if (row[column] !== undefined) columns.add(column);
  return [...columns];
}

function makePlan<V, R>(db: Kysely<Database>, build: (db: Kysely<Database>, rows: Row[], values: V) => Compilable<R>, rowCount: number, columns: string[], names: string[]): Plan {
  const rows = Array.from({ length: rowCount }, (_, row) => Object.fromEntries(columns.map((column) => [column, new Slot(row, column)])));
  const values = Object.fromEntries(names.map((name) => [name, new Slot(-1, name)])) as V;
  const compiled = build(db, rows, values).compile() as CompiledQuery;
  const sources = [...compiled.parameters];
  // every row value must have become a parameter of its own (not inlined into the SQL)
  const rowValues = sources.filter((p) => p instanceof Slot && p.row >= 0).length;
  if (rowValues !== rowCount * columns.length) throw new Error(`reused statement: it binds ${rowValues} row values, not ${rowCount * columns.length} (${compiled.sql.slice(0, 80)}…)`);
  return { compiled, sources };
}
