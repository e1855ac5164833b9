// The embedded queue's storage: pruning and counts on indexes, payloads written once, and the
// layout of an older version migrated in place.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ensureQueueSchema } from '../../src/broker/embedded/schema.js';
import { JobStore } from '../../src/broker/embedded/store.js';
import { openSqlite } from '../../src/db/sqlite.js';

const HOUR = 3_600_000;

describe('embedded queue storage', () => {
  it('drops finished jobs past their age or over the count per queue, keeps the rest, and reads indexes, not the payloads', () => {
    const conn = openSqlite(':memory:');
    ensureQueueSchema(conn);
    const prepared: string[] = [];
    const prepare = conn.prepare.bind(conn);
    conn.prepare = ((sql: string) => (prepared.push(sql), prepare(sql))) as typeof conn.prepare;
    const store = new JobStore(conn);
    conn.prepare = prepare;
    const now = 100 * HOUR;
    const insertJob = conn.prepare(`INSERT INTO queue_jobs (queue, name, payload, state, queued_at, run_at, max_attempts, created_at, finished_at)
                                    VALUES (?, 'x.y', '', ?, 0, 0, 1, 0, ?) RETURNING id`);
    const insertPayload = conn.prepare('INSERT INTO queue_payloads (job_id, payload) VALUES (?, ?)');
    const insert = (queue: string, payload: string, state: string, finishedAt: number | null) =>
      insertPayload.run((insertJob.get(queue, state, finishedAt) as { id: number }).id, payload);
    const big = 'p'.repeat(20_000); // a scan batch's payload
    for (let i = 0; i < 5; i++) insert('a', big, 'completed', now - i * 60_000); // recent
    insert('a', big, 'completed', now - 30 * HOUR); // too old
    for (let i = 0; i < 3; i++) insert('b', big, 'completed', now - i * 60_000);
    insert('b', big, 'failed', now - 30 * HOUR); // failed jobs are kept longer
    insert('b', big, 'failed', now - 200 * HOUR);
    insert('b', big, 'waiting', null);
    const removed = store.prune({ completedMaxAgeMs: 24 * HOUR, completedMaxCount: 4, failedMaxAgeMs: 7 * 24 * HOUR }, now);
    assert.equal(removed, 3); // a's old one, a's oldest recent one over the count of 4, b's old failure
    const counts = Object.fromEntries(store.counts().map((c) => [`${c.queue} ${c.state}`, c.n]));
    assert.deepEqual(counts, { 'a completed': 4, 'b completed': 3, 'b failed': 1, 'b waiting': 1 });
    const kept = conn.prepare(`SELECT finished_at FROM queue_jobs WHERE queue = 'a' ORDER BY finished_at DESC`).all() as { finished_at: number }[];
    assert.deepEqual(kept.map((r) => (now - r.finished_at) / 60_000), [0, 1, 2, 3], 'the newest are kept');
    const payloads = conn.prepare('SELECT COUNT(*) AS n FROM queue_payloads').get() as { n: number };
    assert.equal(payloads.n, 9, 'a pruned job takes its payload with it');
    // the store's own statements for counts and pruning: none walks the table (and its payloads)
    const plan = (sql: string) => (conn.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split('?').slice(1).map(() => 1)) as { detail: string }[]).map((r) => r.detail).join('\n');
    const housekeeping = prepared.filter((sql) => /GROUP BY queue, state|DISTINCT queue|^DELETE FROM queue_jobs/.test(sql));
    assert.equal(housekeeping.length, 5, housekeeping.join('\n'));
    for (const sql of housekeeping) assert.doesNotMatch(plan(sql), /SCAN queue_jobs$/m, sql);
    conn.close();
  });

  it("writes a big payload once, not again at each change of its job's state", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-queue-wal-'));
    const conn = openSqlite(path.join(dir, 'q.db'));
    try {
      conn.pragma('wal_autocheckpoint = 0');
      ensureQueueSchema(conn);
      const store = new JobStore(conn);
      const payload = JSON.stringify({ items: 'x'.repeat(400_000) }); // a scan batch is ~175 KB
      const now = Date.now();
      const { id } = store.insertMany([{ jobKey: null, queue: 'batch', name: 'batch.process_entities', payload, priority: 0, runAt: now, maxAttempts: 3 }], now)[0]!;
      const wal = () => fs.statSync(path.join(dir, 'q.db-wal')).size;
      const afterInsert = wal();
      const claimed = store.claim('batch', 1, 'w1', now, 30_000);
      assert.equal(claimed.rows[0]?.payload, payload, 'the claimed job carries its payload');
      store.saveProgress(id, JSON.stringify({ done: 1 }));
      assert.ok(store.complete(id, 'w1', '{}', null, now));
      assert.equal(store.get(String(id))?.payload, payload);
      const changes = wal() - afterInsert;
      assert.ok(changes < 100_000, `claim, progress and completion wrote ${changes} bytes to the WAL for a 400 KB payload`);
    } finally {
      conn.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves the payloads of a version-1 queue beside their jobs, and runs those jobs', () => {
    const conn = openSqlite(':memory:');
    // version 1's layout of the columns that matter here: the payload inside the job's row
    conn.exec(`CREATE TABLE queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
               INSERT INTO queue_meta VALUES ('schema_version', '1');
               CREATE TABLE queue_jobs (id INTEGER PRIMARY KEY, job_key TEXT UNIQUE, queue TEXT NOT NULL, name TEXT NOT NULL, payload TEXT NOT NULL,
                 state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, queued_at INTEGER NOT NULL, run_at INTEGER NOT NULL,
                 attempts_made INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, stalled_count INTEGER NOT NULL DEFAULT 0,
                 locked_by TEXT, lock_until INTEGER, progress TEXT, result TEXT, error TEXT, created_at INTEGER NOT NULL,
                 started_at INTEGER, finished_at INTEGER);
               INSERT INTO queue_jobs (queue, name, payload, state, queued_at, run_at, max_attempts, created_at)
                 VALUES ('covers', 'covers.process_album_covers', '{"albumIds":[7]}', 'waiting', 0, 0, 3, 0);`);
    ensureQueueSchema(conn);
    const store = new JobStore(conn);
    const claimed = store.claim('covers', 1, 'w1', Date.now(), 30_000);
    assert.deepEqual(claimed.rows.map((r) => [r.name, JSON.parse(r.payload)]), [['covers.process_album_covers', { albumIds: [7] }]]);
    assert.equal((conn.prepare("SELECT value FROM queue_meta WHERE key = 'schema_version'").get() as { value: string }).value, '2');
    assert.equal((conn.prepare("SELECT COUNT(*) AS n FROM queue_jobs WHERE payload <> ''").get() as { n: number }).n, 0, 'moved, not copied');
    conn.close();
  });
});
