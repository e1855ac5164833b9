import type { Kysely } from 'kysely';

/**
 * The library schema as Kysely sees it. The tables arrive with the scan pipeline (issue #3);
 * until then handlers get a connected handle with no typed tables.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Database {}

export type Db = Kysely<Database>;

export type DbDialect = 'sqlite' | 'postgres';
