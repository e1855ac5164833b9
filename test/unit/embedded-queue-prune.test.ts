import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureQueueSchema } from '../../src/broker/embedded/schema.js';
import { JobStore } from '../../src/broker/embedded/store.js';
import { openSqlite } from '../../src/db/sqlite.js';

const HOUR = 3_600_000;

describe('embedded queue: pruning and counts', () => {
  it('drops finished jobs past their age or over the count per queue, keeps the rest, and reads indexes, not the payloads', () => {
    const conn = openSqlite(':memory:');
    ensureQueueSchema(conn);
    const prepared: string[] = [];
    const prepare = conn.prepare.bind(conn);
    conn.prepare = ((sql: string) => (prepared.push(sql), prepare(sql))) as typeof conn.prepare;
    const store = new JobStore(conn);
    conn.prepare = prepare;
    const now = 100 * HOUR;
    const insert = conn.prepare(`INSERT INTO queue_jobs (queue, name, payload, state, queued_at, run_at, max_attempts, created_at, finished_at)
                                 VALUES (?, 'x.y', ?, ?, 0, 0, 1, 0, ?)`);
    const big = 'p'.repeat(20_000); // a scan batch's payload: the columns after it sit on overflow pages
    for (let i = 0; i < 5; i++) insert.run('a', big, 'completed', now - i * 60_000); // recent
    insert.run('a', big, 'completed', now - 30 * HOUR); // too old
    for (let i = 0; i < 3; i++) insert.run('b', big, 'completed', now - i * 60_000);
    insert.run('b', big, 'failed', now - 30 * HOUR); // failed jobs are kept longer
    insert.run('b', big, 'failed', now - 200 * HOUR);
    insert.run('b', big, 'waiting', null);
    const removed = store.prune({ completedMaxAgeMs: 24 * HOUR, completedMaxCount: 4, failedMaxAgeMs: 7 * 24 * HOUR }, now);
    assert.equal(removed, 3); // a's old one, a's oldest recent one over the count of 4, b's old failure
    const counts = Object.fromEntries(store.counts().map((c) => [`${c.queue} ${c.state}`, c.n]));
    assert.deepEqual(counts, { 'a completed': 4, 'b completed': 3, 'b failed': 1, 'b waiting': 1 });
    const kept = conn.prepare(`SELECT finished_at FROM queue_jobs WHERE queue = 'a' ORDER BY finished_at DESC`).all() as { finished_at: number }[];
    assert.deepEqual(kept.map((r) => (now - r.finished_at) / 60_000), [0, 1, 2, 3], 'the newest are kept');
    // the store's own statements for counts and pruning: none walks the table (and its payloads)
    const plan = (sql: string) => (conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split('?').slice(1).map(() => 1)) as { detail: string }[]).map((r) => r.detail).join('\n');
    const housekeeping = prepared.filter((sql) => /GROUP BY queue, state|DISTINCT queue|^DELETE FROM queue_jobs/.test(sql));
    assert.equal(housekeeping.length, 5, housekeeping.join('\n'));
    for (const sql of housekeeping) assert.doesNotMatch(plan(sql), /SCAN queue_jobs$/m, sql);
    conn.close();
  });
});
