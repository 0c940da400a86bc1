import { describe, expect, it } from 'vitest';
import { testDatabase } from '@tillstream/testing';
import { outboxStore, writeOutbox } from '@tillstream/db';

describe('event outbox (one publisher’s view)', () => {
  it('deletes on acknowledgement only what was read: an event committed late, below the ids read, is still published', async () => {
    const db = await testDatabase({ target: 'store' });
    const store = outboxStore(db.pool, 'trends');
    const late = await db.pool.connect();
    try {
      // A forecasting round takes its ids first and commits last; the consumer's batch commits in between.
      await late.query('BEGIN');
      await writeOutbox(late, 'trends', [{ topic: 'forecast.demand.v1', data: { n: 1 } }]);
      await writeOutbox(db.pool, 'trends', [{ topic: 'sales.anomalies.v1', data: { n: 2 } }]);
      const first = await store.read(100);
      expect(first.map((r) => r.data)).toEqual([{ n: 2 }]);
      await late.query('COMMIT');
      // The broker acknowledged the first read; the late event commits before that is recorded.
      await store.acknowledge(first);
      const second = await store.read(100);
      expect(second.map((r) => r.data)).toEqual([{ n: 1 }]);
      expect(BigInt(second[0]!.id)).toBeLessThan(BigInt(first[0]!.id));
      await store.acknowledge(second);
      expect(await store.backlog()).toBe(0);
    } finally {
      late.release();
    }
  });

  it('reads after a row it returned, oldest first, and leaves other publishers’ events alone', async () => {
    const db = await testDatabase({ target: 'store' });
    const store = outboxStore(db.pool, 'inventory');
    await writeOutbox(db.pool, 'inventory', Array.from({ length: 5 }, (_, n) => ({ topic: 'inventory.levels.v1', data: { n } })));
    await writeOutbox(db.pool, 'trends', [{ topic: 'sales.anomalies.v1', data: { n: 99 } }]);
    const first = await store.read(2);
    const next = await store.read(2, first[1]);
    const last = await store.read(2, next[1]);
    expect([...first, ...next, ...last].map((r) => r.data)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    expect(await store.read(2, last[0])).toEqual([]);
    await store.acknowledge([...first, ...next, ...last]);
    expect(await store.backlog()).toBe(0);
    expect(await outboxStore(db.pool, 'trends').backlog()).toBe(1);
  });
});
