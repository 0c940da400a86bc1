import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '@tillstream/testing';
import { KnownIds } from './known-ids.ts';

describe('KnownIds (idempotency filter)', () => {
  it('never forgets an id it was given, and rarely claims one it was not', () => {
    const filter = new KnownIds(10_000);
    const added = Array.from({ length: 10_000 }, () => randomUUID());
    for (const id of added) filter.add(id);
    expect(added.every((id) => filter.mightContain(id))).toBe(true);
    const falsePositives = Array.from({ length: 10_000 }, () => randomUUID()).filter((id) => filter.mightContain(id)).length;
    expect(falsePositives).toBeLessThan(300); // designed for 1%
  });

  it('loads every id of the journal, across pages', async () => {
    const db = await testDatabase({ target: 'store' });
    await db.pool.query(
      `INSERT INTO ingest_transactions (transaction_id, store_id, terminal_id, sequence_number, business_day, body_hash, kafka_partition, kafka_offset, received_at)
       SELECT gen_random_uuid(), 'S001', 'T01', g, '2026-11-22', '\\x00', 0, g, now() FROM generate_series(1, 120000) g`,
    );
    const filter = new KnownIds(200_000);
    expect(await filter.load(db.pool)).toBe(120_000);
    const { rows } = await db.pool.query<{ transaction_id: string }>('SELECT transaction_id FROM ingest_transactions');
    expect(rows.every((r) => filter.mightContain(r.transaction_id))).toBe(true);
  });
});
