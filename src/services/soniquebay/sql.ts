// Batched statements on SoniqueBay's database: one INSERT or UPDATE per batch, its rows passed as
// arrays and expanded by unnest(), so a batch of 500 tracks costs a handful of round trips.
import type pg from 'pg';

export type SqlType = 'int4' | 'int8' | 'text' | 'float8' | 'timestamptz' | 'covertype';

export interface Columns {
  names: readonly string[];
  types: readonly SqlType[];
}

function arrays(columns: Columns, rows: readonly (readonly unknown[])[]): unknown[][] {
  return columns.names.map((_, i) => rows.map((row) => row[i] ?? null));
}

function unnest(columns: Columns, from = 1): string {
  return `unnest(${columns.types.map((t, i) => `$${i + from}::${t}[]`).join(', ')}) AS v(${columns.names.join(', ')})`;
}

/** INSERT INTO table (columns) the rows, then `suffix` (ON CONFLICT…, RETURNING…) */
export async function insertRows<R extends pg.QueryResultRow>(client: pg.PoolClient, table: string, columns: Columns, rows: readonly (readonly unknown[])[], suffix = ''): Promise<R[]> {
  if (rows.length === 0) return [];
  const sql = `INSERT INTO ${table} (${columns.names.join(', ')}) SELECT ${columns.names.map((n) => `v.${n}`).join(', ')} FROM ${unnest(columns)} ${suffix}`;
  return (await client.query<R>(sql, arrays(columns, rows))).rows;
}

/** UPDATE table SET each column but the first (the id) from the rows, matched on `id`; returns the ids updated */
export async function updateRows(client: pg.PoolClient, table: string, columns: Columns, rows: readonly (readonly unknown[])[], extraSet = ''): Promise<number[]> {
  if (rows.length === 0) return [];
  const [key, ...rest] = columns.names;
  const set = [...rest.map((n) => `${n} = v.${n}`), ...(extraSet ? [extraSet] : [])].join(', ');
  const sql = `UPDATE ${table} AS t SET ${set} FROM ${unnest(columns)} WHERE t.${key} = v.${key} RETURNING t.${key} AS id`;
  return (await client.query<{ id: number }>(sql, arrays(columns, rows))).rows.map((r) => r.id);
}
