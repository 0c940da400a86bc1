import { describe, expect, it } from 'vitest';
import { decimalToMilli, storeTopics } from '@tillstream/contracts';
import { createClient, listQuarantine } from '@tillstream/db';
import { expectedStock, testInventory } from '@tillstream/inventory/testing';
import { topicRecordCount } from '@tillstream/kafka';
import { readTopic, seededRandom, storeTraffic, testDatabase, testEnv, testKafka, waitFor } from '@tillstream/testing';

/**
 * Fault injection: the store database turns read-only under a running
 * consumer, as during a failover to a standby (SQLSTATE 25006). Read-only
 * used to be classified as the record's fault, so inventory dead-lettered
 * every record it met until the database was writable again. It must retry,
 * and once writable book everything exactly once, with zero dead letters.
 */
describe('inventory while the store database is read-only', () => {
  it('retries with backoff, then books everything once, with nothing dead-lettered or quarantined', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const inv = await testInventory({}, { db, kafka });
    const traffic = storeTraffic(600, seededRandom(13));
    await inv.publish(traffic.slice(0, 200));
    await inv.caughtUp();

    // The server side of a failover: new sessions are read-only, and existing ones are ended (as a promoted standby would).
    const admin = createClient({ connectionString: testEnv.POSTGRES_URL });
    await admin.connect();
    const setReadOnly = async (on: boolean) => {
      await admin.query(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
    };
    try {
      await setReadOnly(true);
      // The fixture journals what it publishes (as ingest would); with the database read-only, only the broker takes these.
      await inv.publish(traffic.slice(200, 400)).catch(() => undefined);
      await waitFor(() => inv.logs.some((l) => l.includes('handler failed; retrying') && l.includes('25006')), {
        timeoutMs: 30_000,
        message: 'the consumer to retry a read-only database (25006)',
      });
      const retriesBefore = inv.logs.filter((l) => l.includes('handler failed; retrying')).length;
      await waitFor(() => inv.logs.filter((l) => l.includes('handler failed; retrying')).length >= retriesBefore + 2, {
        timeoutMs: 30_000,
        message: 'several retries while read-only',
      });
    } finally {
      await setReadOnly(false);
      await admin.end();
    }
    await inv.publish(traffic.slice(400));
    await inv.caughtUp(60_000);

    const records = await readTopic(kafka.kafka, inv.topic);
    const expected = [...expectedStock(records)].filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b));
    const { rows } = await db.pool.query<{ sku: string; on_hand: string }>('SELECT sku, on_hand FROM inventory_items WHERE on_hand <> 0 ORDER BY sku');
    expect(rows.map((r) => [r.sku, decimalToMilli(r.on_hand)]).sort(([a], [b]) => String(a).localeCompare(String(b)))).toEqual(expected);
    const booked = await db.pool.query<{ n: number; distinct: number }>('SELECT count(*)::int AS n, count(DISTINCT transaction_id)::int AS distinct FROM inventory_pos_transactions');
    expect(booked.rows[0]!.n).toBe(new Set(records.map((r) => r.envelope.data.transactionId)).size);
    expect(booked.rows[0]!.distinct).toBe(booked.rows[0]!.n);
    // Nothing was set aside as poison: a read-only database is not the record's fault.
    expect(await topicRecordCount(kafka.kafka, `${inv.topic}.dlq`, { missing: 'empty' })).toBe(0);
    expect(await listQuarantine(db.pool, 'store', { status: 'all' })).toEqual([]);
    expect(await (await inv.get('/metrics')).text()).not.toMatch(/^dead_lettered_total\{/m);
  }, 150_000);
});
