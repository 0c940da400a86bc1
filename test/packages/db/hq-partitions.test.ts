import { describe, expect, it } from 'vitest';
import { migrate, serviceRole } from '@tillstream/db';
import { testDatabase, testLogger } from '@tillstream/testing';

/** The migration that splits HQ's two big tables into monthly partitions (docs/hq-storage.md). */
const PARTITIONS_MIGRATION = '20261201060000000';

const TX = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('the HQ partitioning migration', () => {
  it('converts a database that holds data: every row kept in its month, the keys, the grants and the deduplication with them', async () => {
    const db = await testDatabase({ target: 'empty' });
    const applied = await migrate({ databaseUrl: db.url, target: 'hq', logger: testLogger(), before: PARTITIONS_MIGRATION });
    expect(applied.some((name) => name >= PARTITIONS_MIGRATION)).toBe(false);
    expect(applied.length).toBeGreaterThan(3);

    // Rows of three months, as HQ's views wrote them before.
    await db.pool.query(
      `INSERT INTO hq_transactions (store_id, transaction_id, terminal_id, sequence_number, business_day, type, training, net, grand, tenders, occurred_at)
       VALUES ('S001', $1, 'T01', 1, '2026-09-30', 'SALE', false, 100, 110, '[]', '2026-09-30T10:00:00Z'),
              ('S001', $2, 'T01', 2, '2026-10-01', 'SALE', false, 200, 220, '[]', '2026-10-01T10:00:00Z'),
              ('S002', $3, 'T01', 1, '2026-11-15', 'SALE', false, 300, 330, '[]', '2026-11-15T10:00:00Z')`,
      [TX(1), TX(2), TX(3)],
    );
    await db.pool.query(
      `INSERT INTO hq_sales_aggregates (store_id, granularity, window_start, dimension, member, business_day, revision, units, gross, discounts, net, tax,
         transactions, items, returns, returns_units, returns_amount, updated_at)
       VALUES ('S001', 'day', '2026-09-30T00:00:00Z', 'store', 'all', '2026-09-30', 3, 1, 100, 0, 100, 10, 1, 1, 0, 0, 0, now()),
              ('S001', '1h', '2026-10-01T10:00:00Z', 'store', 'all', NULL, 1, 1, 200, 0, 200, 20, 1, 1, 0, 0, 0, now())`,
    );
    const before = await db.pool.query('SELECT * FROM hq_transactions ORDER BY transaction_id');

    const rest = await migrate({ databaseUrl: db.url, target: 'hq', logger: testLogger() });
    expect(rest[0]).toMatch(new RegExp(`^${PARTITIONS_MIGRATION}`));

    // Every row is still there, unchanged, each in its month's partition.
    expect((await db.pool.query('SELECT * FROM hq_transactions ORDER BY transaction_id')).rows).toEqual(before.rows);
    const where = await db.pool.query<{ tableoid: string; transaction_id: string }>('SELECT tableoid::regclass::text, transaction_id FROM hq_transactions ORDER BY transaction_id');
    expect(where.rows.map((r) => r.tableoid)).toEqual(['hq_transactions_p202609', 'hq_transactions_p202610', 'hq_transactions_p202611']);
    const aggregates = await db.pool.query<{ tableoid: string }>('SELECT tableoid::regclass::text FROM hq_sales_aggregates ORDER BY window_start');
    expect(aggregates.rows.map((r) => r.tableoid)).toEqual(['hq_sales_aggregates_p202609', 'hq_sales_aggregates_p202610']);

    // Both are partitioned, with a DEFAULT partition, and keys that hold the partition key.
    const { rows: keys } = await db.pool.query<{ table: string; key: string; partitioned: boolean }>(
      `SELECT c.relname AS table, pg_get_constraintdef(k.oid) AS key, c.relkind = 'p' AS partitioned
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE k.contype = 'p' AND c.relname IN ('hq_transactions', 'hq_sales_aggregates') ORDER BY 1`,
    );
    expect(keys).toEqual([
      { table: 'hq_sales_aggregates', key: 'PRIMARY KEY (store_id, granularity, window_start, dimension, member)', partitioned: true },
      { table: 'hq_transactions', key: 'PRIMARY KEY (store_id, business_day, transaction_id)', partitioned: true },
    ]);
    const { rows: defaults } = await db.pool.query<{ relname: string }>(
      "SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' ORDER BY 1",
    );
    expect(defaults.map((r) => r.relname)).toEqual(['hq_sales_aggregates_default', 'hq_transactions_default']);

    // HQ's role keeps its DML on the new tables, and still may not create or drop any.
    const hq = serviceRole('hq');
    const { rows: grants } = await db.pool.query<{ t: boolean; a: boolean }>(
      `SELECT has_table_privilege($1, 'hq_transactions', 'SELECT, INSERT, UPDATE, DELETE') AS t, has_table_privilege($1, 'hq_sales_aggregates', 'SELECT, INSERT, UPDATE, DELETE') AS a`,
      [hq],
    );
    expect(grants[0]).toEqual({ t: true, a: true });

    // A copy of a migrated transaction is still refused by the key (what HQ's view writer relies on: ON CONFLICT DO NOTHING).
    const again = await db.pool.query(
      `INSERT INTO hq_transactions (store_id, transaction_id, terminal_id, sequence_number, business_day, type, training, net, grand, tenders, occurred_at)
       VALUES ('S001', $1, 'T01', 2, '2026-10-01', 'SALE', false, 200, 220, '[]', '2026-10-01T10:00:00Z') ON CONFLICT DO NOTHING`,
      [TX(2)],
    );
    expect(again.rowCount).toBe(0);
  });
});
