// Per-entity work state: what is pending, done or failed for each stage, with retry timing. The
// database, not the queue, is the record of what is left to do.
import { reusedInsert } from '../db/reused_statements.js';
import type { Db, WorkStateTable } from '../db/types.js';

export type Entity = WorkStateTable['entity_type'];

/** failed attempts of outside lookups back off 5 min · 2^n, capped at 1 h … */
const RETRY_BASE_MS = 5 * 60_000;
const RETRY_CAP_MS = 60 * 60_000;
/** … and give up after this many (about 5 h of trying), keeping the last reason */
export const MAX_ATTEMPTS = 8;

export async function markWork(db: Db, entity: Entity, id: number, stage: string, status: WorkStateTable['status'], fields: MarkFields = {}): Promise<void> {
  const marks = new WorkMarks();
  marks.mark(entity, id, stage, status, fields);
  await marks.write(db);
}

type MarkFields = { error?: string | null; nextAttemptAt?: number | null };

/**
 * markWork calls gathered and written together, in multi-row statements of one transaction: a
 * covers batch marks two or three stages per album or artist, and each mark alone was a commit of
 * its own (~6,000 commits in a 10k-file scan). A covers job writes them in a `finally`
 * (withCoverWrites in covers/links.ts); what a crash loses before that is redone by the job's retry
 * (every stage is idempotent).
 */
export class WorkMarks {
  private readonly rows = new Map<string, WorkStateTable>();

  mark(entity: Entity, id: number, stage: string, status: WorkStateTable['status'], fields: MarkFields = {}): void {
    const now = Date.now();
    // one row per key: PostgreSQL refuses a statement that updates the same row twice
    this.rows.set(`${entity}\0${id}\0${stage}`, {
      entity_type: entity,
      entity_id: id,
      stage,
      status,
      attempts: 0,
      next_attempt_at: fields.nextAttemptAt ?? (status === 'pending' ? now : null),
      last_error: fields.error ?? null,
      updated_at: now,
    });
  }

  /** writes the gathered marks; call it inside a transaction (one commit for all, see withCoverWrites) */
  async write(db: Db): Promise<void> {
    const rows = [...this.rows.values()];
    this.rows.clear();
    await upsertMarks(db, rows, {});
  }
}

// compiled once per shape (db/reused_statements.ts)
const upsertMarks = reusedInsert(
  (db, rows) =>
    db
      .insertInto('work_state')
      .values(rows as never)
      .onConflict((oc) =>
        oc.columns(['entity_type', 'entity_id', 'stage']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          next_attempt_at: eb.ref('excluded.next_attempt_at'),
          last_error: eb.ref('excluded.last_error'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      ),
  200,
);

/**
 * Records a failed attempt: due again after the backoff, or failed for good with the reason once
 * MAX_ATTEMPTS is reached. `retryAt` (a provider's own "not before") wins when it is later.
 */
export async function failWork(db: Db, entity: Entity, id: number, stage: string, error: string, retryAt?: number): Promise<'retry' | 'gave-up'> {
  const now = Date.now();
  const current = await db.selectFrom('work_state').select('attempts').where('entity_type', '=', entity).where('entity_id', '=', id).where('stage', '=', stage).executeTakeFirst();
  const attempts = (current?.attempts ?? 0) + 1;
  const gaveUp = attempts >= MAX_ATTEMPTS;
  const next = gaveUp ? null : Math.max(now + Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempts - 1)), retryAt ?? 0);
  const status = gaveUp ? 'failed' : 'pending';
  const message = gaveUp ? `gave up after ${attempts} attempts: ${error}` : error;
  await db
    .insertInto('work_state')
    .values({ entity_type: entity, entity_id: id, stage, status, attempts, next_attempt_at: next, last_error: message, updated_at: now })
    .onConflict((oc) => oc.columns(['entity_type', 'entity_id', 'stage']).doUpdateSet({ status, attempts, next_attempt_at: next, last_error: message, updated_at: now }))
    .execute();
  return gaveUp ? 'gave-up' : 'retry';
}

/** Work of a stage that is pending and leased (queued, or held for a job): not due before its lease ends. */
export async function countLeasedWork(db: Db, stage: string): Promise<number> {
  const row = await db
    .selectFrom('work_state')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('stage', '=', stage)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '>', Date.now())
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Work of a stage that is due now, oldest first; each item is leased for `leaseMs` so the next sweep skips it. */
export async function takeDueWork(db: Db, stage: string, limit: number, leaseMs: number): Promise<{ entity: Entity; id: number }[]> {
  const now = Date.now();
  const due = await db
    .selectFrom('work_state')
    .select(['entity_type', 'entity_id'])
    .where('stage', '=', stage)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  for (const item of due) {
    await db
      .updateTable('work_state')
      .set({ next_attempt_at: now + leaseMs, updated_at: now })
      .where('entity_type', '=', item.entity_type)
      .where('entity_id', '=', item.entity_id)
      .where('stage', '=', stage)
      .execute();
  }
  return due.map((d) => ({ entity: d.entity_type, id: d.entity_id }));
}
