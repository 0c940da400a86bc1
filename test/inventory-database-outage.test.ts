import { describe, expect, it } from 'vitest';
import { decimalToMilli, storeTopics } from '@tillstream/contracts';
import { expectedStock, testInventory } from '@tillstream/inventory/testing';
import { topicRecordCount } from '@tillstream/kafka';
import { readTopic, seededRandom, storeTraffic, tcpProxy, testDatabase, testEnv, testKafka, waitFor } from '@tillstream/testing';

/**
 * Fault injection: the store database goes away mid-stream and comes back.
 * The ledger pauses (retrying with backoff, never dead-lettering what is only
 * a transient fault), the store API answers 503, and once the database is
 * back it resumes where its stored offset says: no record skipped, none
 * booked twice.
 */
describe('inventory while the store database is down', () => {
  it('pauses, answers 503, then resumes without skipping or doubling a movement', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(testEnv.POSTGRES_URL).port) });
    const viaProxy = new URL(db.urlFor('inventory'));
    viaProxy.port = String(proxy.port);
    const inv = await testInventory({ DATABASE_URL: viaProxy.toString() }, { db, kafka });
    const traffic = storeTraffic(900, seededRandom(42));

    await inv.publish(traffic.slice(0, 300));
    await inv.caughtUp();

    await proxy.cut();
    await inv.publish(traffic.slice(300, 600));
    // The consumer keeps failing and retrying while the database is away.
    await waitFor(() => inv.logs.some((l) => l.includes('handler failed; retrying')), { timeoutMs: 15_000, message: 'the consumer to retry' });
    const read = await inv.get('/v1/inventory/items/SKU-1');
    expect(read.status).toBe(503);
    expect(await read.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect((await inv.get('/readyz')).status).toBe(503);
    // Stay down across several retries (counted, not timed), so the backoff is exercised, not just the first failure.
    const retries = () => inv.logs.filter((l) => l.includes('handler failed; retrying')).length;
    await waitFor(() => retries() >= 3, { timeoutMs: 30_000, message: 'three retries while the database is down' });

    await proxy.restore();
    await inv.publish(traffic.slice(600));
    await inv.caughtUp(60_000);

    const records = await readTopic(kafka.kafka, inv.topic);
    const expected = [...expectedStock(records)].filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b));
    const { rows } = await db.pool.query<{ sku: string; on_hand: string }>('SELECT sku, on_hand FROM inventory_items WHERE on_hand <> 0 ORDER BY sku');
    expect(rows.map((r) => [r.sku, decimalToMilli(r.on_hand)]).sort(([a], [b]) => String(a).localeCompare(String(b)))).toEqual(expected);
    // Nothing was set aside as poison: a database outage is not the record's fault.
    expect(await topicRecordCount(kafka.kafka, `${inv.topic}.dlq`, { missing: 'empty' })).toBe(0);
  }, 120_000);
});
