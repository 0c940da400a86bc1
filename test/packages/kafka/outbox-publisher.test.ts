import { afterEach, describe, expect, it } from 'vitest';
import { posTransactions, type PosTransaction } from '@tillstream/contracts';
import { outboxStore, writeOutbox } from '@tillstream/db';
import { OutboxPublisher, TypedProducer, topicRecordCount, type OutboxSource } from '@tillstream/kafka';
import { makeTransaction, readRecords, testDatabase, testKafka, waitFor } from '@tillstream/testing';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/**
 * The outbox publisher against the real broker and the real event outbox:
 * a backlog goes out round after round, the next round read while the last
 * is on its way, and still every event reaches the topic, in order, before
 * the outbox forgets it.
 */
async function setup(events: number) {
  const db = await testDatabase({ target: 'store' });
  const kafka = await testKafka({ specs: [posTransactions] });
  const topic = `${kafka.prefix}${posTransactions.name}`;
  const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
  await producer.connect();
  stops.push(() => producer.disconnect());
  const txs = Array.from({ length: events }, () => makeTransaction([{ sku: 'A' }]) as PosTransaction);
  await writeOutbox(db.pool, 'test', txs.map((data) => ({ topic: posTransactions.name, data })));
  const store = outboxStore(db.pool, 'test');
  const start = (source: OutboxSource) => {
    const publisher = new OutboxPublisher({ sources: [source], producer, logger: kafka.logger, storeId: 'S001', specs: [posTransactions], batchSize: 10, pollMs: 50 });
    publisher.start();
    stops.push(() => publisher.stop());
    return publisher;
  };
  const published = async () => (await readRecords(kafka.kafka, topic)).map((r) => (JSON.parse(r.value) as { data: PosTransaction }).data.transactionId);
  return { db, kafka, topic, txs, store, start, published };
}

describe('outbox publisher', () => {
  it('publishes a backlog in order, reading each round while the last is on its way, and forgets a round only once the broker has it', async () => {
    const { kafka, topic, txs, store, start, published } = await setup(45);
    const reads: Array<{ after: string | undefined; got: number }> = [];
    const violations: string[] = [];
    let acknowledged = 0;
    start({
      read: async (limit, after) => {
        const rows = await store.read(limit, after);
        reads.push({ after: after?.id, got: rows.length });
        return rows;
      },
      acknowledge: async (items) => {
        // Everything acknowledged so far, these included, is on the topic.
        const onTopic = await topicRecordCount(kafka.kafka, topic);
        if (onTopic < acknowledged + items.length) violations.push(`acknowledged ${acknowledged + items.length} with ${onTopic} on the topic`);
        acknowledged += items.length;
        await store.acknowledge(items);
      },
      backlog: () => store.backlog(),
    });
    await waitFor(async () => (await store.backlog()) === 0, { message: 'the outbox to drain' });
    expect(violations).toEqual([]);
    expect(await published()).toEqual(txs.map((t) => t.transactionId));
    // Rounds after the first were read after the round before them (read ahead), not from the start.
    expect(reads.filter((r) => r.after !== undefined).length).toBeGreaterThanOrEqual(4);
  });

  it('publishes an event committed behind the rounds already read, and a round whose acknowledgement failed, again', async () => {
    const { db, txs, store, start, published } = await setup(25);
    const late = await db.pool.connect();
    stops.push(async () => late.release());
    // A writer takes its id, then five more events commit above it; it commits only once the publisher has read past it.
    await late.query('BEGIN');
    const lateTx = makeTransaction([{ sku: 'LATE' }]) as PosTransaction;
    await writeOutbox(late, 'test', [{ topic: posTransactions.name, data: lateTx }]);
    const lateId = BigInt((await late.query<{ id: string }>('SELECT max(id) AS id FROM event_outbox')).rows[0]!.id);
    const above = Array.from({ length: 5 }, () => makeTransaction([{ sku: 'B' }]) as PosTransaction);
    await writeOutbox(db.pool, 'test', above.map((data) => ({ topic: posTransactions.name, data })));
    let committed = false;
    let failedOnce = false;
    start({
      read: async (limit, after) => {
        const rows = await store.read(limit, after);
        if (!committed && rows.some((r) => BigInt(r.id) > lateId)) {
          expect(rows.some((r) => BigInt(r.id) === lateId)).toBe(false);
          await late.query('COMMIT');
          committed = true;
        }
        return rows;
      },
      acknowledge: async (items) => {
        if (!failedOnce) {
          failedOnce = true;
          throw new Error('database went away');
        }
        await store.acknowledge(items);
      },
      backlog: () => store.backlog(),
    });
    await waitFor(async () => committed && (await store.backlog()) === 0, { message: 'the outbox to drain', timeoutMs: 20_000 });
    const ids = await published();
    expect(failedOnce).toBe(true);
    // Every event at least once (the rounds around the failed acknowledgement went out twice), the late one included.
    const expected = [...txs, ...above, lateTx].map((t) => t.transactionId);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(ids.length).toBeGreaterThan(expected.length);
  });
});
